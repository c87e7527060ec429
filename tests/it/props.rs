//! Property tests for every parser and formatter that sees user text: whatever arrives, they
//! answer without panicking, and what they produce reads back to what went in.

use proptest::prelude::*;

/// Text with the characters that broke things before: case mappings that change length,
/// combining marks, bidi controls, NUL, full-width digits, CJK, markup.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        1 => prop::sample::select(vec![
            'İ', 'ı', '\u{212A}', '\u{212B}', '\u{2126}', 'ß', 'ﬃ', '\u{0301}', '\u{0307}',
            '\u{202E}', '\u{200B}', '\u{0}', '\u{1b}', '\n', '\t', '０', '９', '．', '工', '会',
            '福', '利', '<', '>', '&', '"', '\'', '%', '_', '\\', '[', ']', '】', '*', '😀',
        ]),
    ]
}

fn hostile_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(hostile_char(), 0..max).prop_map(String::from_iter)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn time_input_never_panics_and_accepts_only_2000_to_2100(s in hostile_text(30)) {
        if let Ok(t) = zhijia::time::parse_input(&s) {
            let local = zhijia::time::to_beijing(&t);
            prop_assert!((2000..=2100).contains(&chrono::Datelike::year(&local)));
        }
        let _ = zhijia::time::parse_date_input(&s);
    }

    #[test]
    fn time_input_round_trips(y in 2000i32..=2100, mo in 1u32..=12, d in 1u32..=28, h in 0u32..24, mi in 0u32..60) {
        let typed = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}");
        let t = zhijia::time::parse_input(&typed).unwrap();
        prop_assert_eq!(zhijia::time::format_input(&t), typed);
    }

    #[test]
    fn out_of_range_years_are_refused(y in prop_oneof![-262_000i32..2000, 2101i32..262_000], mo in 1u32..=12, d in 1u32..=28) {
        let typed = if y < 0 { format!("{y:05}-{mo:02}-{d:02}T00:00") } else { format!("{y:+}-{mo:02}-{d:02}T00:00") };
        prop_assert!(zhijia::time::parse_input(&typed).is_err());
        let plain = format!("{y:04}-{mo:02}-{d:02}T00:00");
        prop_assert!(zhijia::time::parse_input(&plain).is_err());
    }

    #[test]
    fn formatting_any_stored_instant_never_panics(secs in any::<i64>(), f in hostile_text(12)) {
        let t = chrono::DateTime::from_timestamp(secs / 1000, 0)
            .unwrap_or_default()
            .naive_utc();
        let _ = zhijia::time::beijing(&t, "%Y-%m-%d %H:%M");
        let _ = zhijia::time::beijing(&t, &f);
        let _ = zhijia::time::date_of(&t);
        let _ = zhijia::time::day_start(t.date());
    }

    #[test]
    fn amounts_never_panic_and_fen_round_trip(s in hostile_text(24), fen in 1i64..100_000_000_000, any_fen in any::<i64>()) {
        let _ = zhijia::benefits::service::parse_amount(&s);
        let shown = zhijia::benefits::model::yuan(fen);
        prop_assert_eq!(zhijia::benefits::service::parse_amount(&shown), Ok(fen));
        let _ = zhijia::benefits::model::yuan(any_fen);
    }

    #[test]
    fn snippets_never_panic_and_escape_everything_but_their_marks(text in hostile_text(300), q in hostile_text(12)) {
        let html = zhijia::search::snippet_html(&text, &q);
        let bare = html.replace("<mark>", "").replace("</mark>", "");
        prop_assert!(!bare.contains('<') && !bare.contains('>'), "{}", html);
        prop_assert_eq!(html.matches("<mark>").count(), html.matches("</mark>").count());
    }

    #[test]
    fn a_word_in_the_text_is_marked_whatever_surrounds_it(before in hostile_text(60), after in hostile_text(5)) {
        let text = format!("{before} 鄱阳湖 {after}");
        let html = zhijia::search::snippet_html(&text, "鄱阳湖");
        prop_assert!(html.contains("<mark>鄱阳湖</mark>"), "{}", html);
    }

    #[test]
    fn search_tokens_never_panic_and_hold_no_spaces(text in hostile_text(200)) {
        for t in zhijia::search::tokens(&text) {
            prop_assert!(!t.is_empty());
            prop_assert!(!t.chars().any(char::is_whitespace), "{:?}", t);
        }
    }

    #[test]
    fn every_two_character_word_of_chinese_text_is_a_token(s in "[\u{4e00}-\u{9fa5}]{2,20}") {
        let tokens = zhijia::search::tokens(&s);
        let chars: Vec<char> = s.chars().collect();
        for w in chars.windows(2) {
            let word: String = w.iter().collect();
            prop_assert!(tokens.contains(&word), "{} missing from {:?}", word, tokens);
        }
    }

    #[test]
    fn survey_text_never_panics(src in hostile_text(400)) {
        let _ = zhijia::surveys::service::parse_questions(&src);
    }

    #[test]
    fn survey_questions_round_trip(prompt in "[\u{4e00}-\u{9fa5}a-z]{1,20}", opts in prop::collection::vec("[\u{4e00}-\u{9fa5}]{1,8}", 2..6), required in any::<bool>()) {
        let star = if required { " *" } else { "" };
        let src = format!("[单选] {prompt}{star}\n{}\n\n[文本] 其他", opts.join("\n"));
        let q = zhijia::surveys::service::parse_questions(&src).unwrap();
        prop_assert_eq!(q.len(), 2);
        prop_assert_eq!(&q[0].prompt, &prompt);
        prop_assert_eq!(&q[0].options, &opts);
        prop_assert_eq!(q[0].required, required);
    }

    #[test]
    fn markdown_never_panics_and_never_lets_script_through(md in hostile_text(300), tag in prop::sample::select(vec!["script", "iframe", "img src=x onerror=alert(1)", "a href=\"javascript:alert(1)\""])) {
        let html = zhijia::web::markdown::render(&format!("{md}<{tag}>x</{tag}>{md}"));
        // Inspect the tags only: escaped text may say anything.
        let tags = regex_lite::Regex::new(r"<[^>]*>").unwrap();
        for t in tags.find_iter(html.as_str()) {
            let t = t.as_str().to_lowercase();
            prop_assert!(!t.starts_with("<script") && !t.starts_with("<iframe") && !t.contains("onerror") && !t.contains("javascript:"), "{}", html.as_str());
        }
    }

    #[test]
    fn receipts_normalise_back_from_how_they_are_shown(r in "[0-9A-HJKMNP-TV-Z]{16}", typed in hostile_text(40)) {
        let shown = zhijia::grievances::service::format_receipt(&r);
        prop_assert_eq!(zhijia::grievances::service::normalize_receipt(&shown), r.clone());
        prop_assert_eq!(zhijia::grievances::service::normalize_receipt(&shown.to_lowercase()), r);
        let _ = zhijia::grievances::service::format_receipt(&typed);
        let _ = zhijia::grievances::service::normalize_receipt(&typed);
    }

    #[test]
    fn roster_csv_cells_read_back_as_written(cells in prop::collection::vec(prop::collection::vec(hostile_text(20), 1..5), 1..6)) {
        // A byte-order mark at the start is Excel's encoding marker, not data.
        let cells: Vec<Vec<String>> = cells.into_iter().map(|r| r.into_iter().map(|c| c.replace('\u{feff}', "")).collect()).collect();
        let dir = std::env::temp_dir().join(format!("zhijia-prop-{}", zhijia::auth::random_token(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("roster.csv");
        let mut w = csv::WriterBuilder::new().flexible(true).from_path(&path).unwrap();
        for row in &cells {
            w.write_record(row).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let rows = zhijia::members::import::read_rows(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        let rows = rows.unwrap();
        prop_assert_eq!(rows, cells);
    }
}
