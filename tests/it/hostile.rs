//! Nothing a request sends can take the portal down: out-of-range dates are field errors, text
//! whose case mapping changes length is searched safely, and a panic costs one request a 500.

use actix_web::{test, web};

use crate::helpers::*;

fn unit(conn: &mut zhijia::db::PooledConn, name: &str) -> i32 {
    zhijia::org::model::find_by_name(conn, name).unwrap()[0].id
}

/// Dates chrono can parse but Beijing-time arithmetic or people cannot use.
const BAD_DATES: [&str; 4] = [
    "-262143-01-01T00:00",
    "+262142-12-31T23:59",
    "1999-12-31T23:59",
    "2101-01-01T00:00",
];

#[actix_web::test]
async fn dates_out_of_range_are_field_errors_on_activities_news_and_surveys() {
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会").to_string();
    let cat = zhijia::news::model::categories(&mut app.conn()).unwrap()[0]
        .id
        .to_string();
    let ok =
        zhijia::time::format_input(&(app.state.config.clock.now() + chrono::Duration::days(3)));
    app.login_ok("demo-cadre").await;
    let before = (
        app.count("activities"),
        app.count("news_articles"),
        app.count("surveys"),
    );
    for bad in BAD_DATES {
        for field in [
            "starts_at",
            "ends_at",
            "signup_opens_at",
            "signup_closes_at",
        ] {
            let mut f = vec![
                ("title", "越界日期"),
                ("kind", "文体活动"),
                ("place", "礼堂"),
                ("starts_at", ok.as_str()),
                ("ends_at", ok.as_str()),
                ("capacity", "10"),
                ("audience", a.as_str()),
            ];
            f.retain(|(k, _)| *k != field);
            f.push((field, bad));
            let r = app.post("/admin/activities/new", &f).await;
            r.assert_status(422).assert_contains("越界日期");
            assert!(r.body.contains("日期超出范围"), "{field} = {bad}");
        }
        app.post(
            "/admin/news/new",
            &[
                ("title", "越界日期"),
                ("category_id", &cat),
                ("body", "正文"),
                ("audience", &a),
                ("publish_at", bad),
                ("action", "save"),
            ],
        )
        .await
        .assert_status(422)
        .assert_contains("日期超出范围");
        for field in ["opens_at", "closes_at"] {
            let mut f = vec![
                ("title", "越界日期"),
                ("source", "[单选] 好吗\n好\n不好"),
                ("closes_at", ok.as_str()),
                ("results_visibility", "after_answer"),
                ("audience", a.as_str()),
            ];
            f.retain(|(k, _)| *k != field);
            f.push((field, bad));
            app.post("/admin/surveys/new", &f)
                .await
                .assert_status(422)
                .assert_contains("日期超出范围");
        }
    }
    assert_eq!(
        before,
        (
            app.count("activities"),
            app.count("news_articles"),
            app.count("surveys"),
        ),
        "nothing saved"
    );
    // The server still answers, and a sane date is accepted.
    app.get("/admin/activities").await.assert_status(200);
}

#[actix_web::test]
async fn search_over_text_whose_lower_case_changes_length_finds_and_marks_the_word() {
    let mut app = spawn_base().await;
    app.with(|c, now| pages_full(c, now, 5));
    let a = unit(&mut app.conn(), "机关分会");
    let cat = zhijia::news::model::categories(&mut app.conn()).unwrap()[0]
        .id
        .to_string();
    app.login_ok("demo-cadre").await;
    let body = "İİİİ KKKK ÅÅÅ ΩΩΩ İstanbul 分会 <b>x</b> 鄱阳 龙虎 end";
    app.post(
        "/admin/news/new",
        &[
            ("title", "工会土耳其交流İ"),
            ("category_id", &cat),
            ("body", body),
            ("audience", &a.to_string()),
            ("action", "save"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    // Whole tokens: the Kelvin signs lower-case to ASCII "kkkk".
    for q in [
        "鄱阳",
        "龙虎",
        "i̇stanbul",
        "İstanbul",
        "kkkk",
        "ååå",
        "ωωω",
        "end",
        "鄱阳 end",
    ] {
        let path = format!("/search?q={}", zhijia::web::url_encode(q));
        let r = app.get(&path).await;
        r.assert_status(200);
        assert!(r.body.contains("土耳其交流"), "{q}: not found");
        assert!(r.body.contains("<mark>"), "{q}: no mark");
    }
    let r = app.get("/search?q=%E9%84%B1%E9%98%B3").await;
    r.assert_status(200).assert_contains("<mark>鄱阳</mark>");
    // The reported crash: a common word, over results that hold such characters.
    app.get("/search?q=%E5%B7%A5%E4%BC%9A")
        .await
        .assert_status(200)
        .assert_contains("<mark>工会</mark>");
    // The escaped body text is never turned into markup.
    assert!(!r.body.contains("<b>x</b>"));
    // Hostile queries over that content: answered, never a 5xx.
    for v in hostile_values() {
        // A URL has a length limit the page's long text does not.
        let v: String = v.chars().take(500).collect();
        let path = format!("/search?q={}", zhijia::web::url_encode(&v));
        let r = app.get(&path).await;
        assert!(
            r.status.as_u16() < 500,
            "{:?}: {}",
            v.chars().take(20).collect::<String>(),
            r.status
        );
    }
}

#[actix_web::test]
async fn a_panic_in_a_handler_or_a_database_closure_is_a_500_with_a_reference_and_the_worker_goes_on(
) {
    let base = spawn().await;
    let state = base.state.clone();
    let svc = test::init_service(
        zhijia::app(state.clone())
            .route(
                "/test/panic",
                web::get().to(|| async {
                    let v: Vec<u8> = Vec::new();
                    // An out-of-bounds index, as a bug would have it.
                    let i = v.len() + std::hint::black_box(3);
                    #[allow(clippy::indexing_slicing)]
                    let b = v[i];
                    format!("{b}")
                }),
            )
            .route(
                "/test/panic-db",
                web::get().to(|st: web::Data<zhijia::AppState>| async move {
                    zhijia::db::run(&st.pool, |_conn| -> zhijia::error::AppResult<String> {
                        panic!("on purpose inside db::run")
                    })
                    .await
                }),
            ),
    )
    .await;
    for path in ["/test/panic", "/test/panic-db", "/test/panic"] {
        let res = test::call_service(&svc, test::TestRequest::get().uri(path).to_request()).await;
        assert_eq!(res.status().as_u16(), 500, "{path}");
        let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
        assert!(body.contains("系统繁忙"), "{body}");
        let re =
            regex_lite::Regex::new(r#"参考编号：<code class="ref">([0-9A-Z]{8})</code>"#).unwrap();
        assert!(re.is_match(&body), "no reference number: {body}");
        let res =
            test::call_service(&svc, test::TestRequest::get().uri("/login").to_request()).await;
        assert_eq!(res.status().as_u16(), 200, "the next request after {path}");
    }
}

/// A multipart body with 20,000 distinct fields, or of 200 MB, is refused while it streams
/// (413), before anything is kept or the token is checked; one without a length (411) before
/// anything is read; a normal post still works after.
#[actix_web::test]
async fn multipart_bodies_with_too_many_parts_or_bytes_are_refused_early() {
    use actix_web::test::{call_service, TestRequest};
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let boundary = "----zhijia-hostile-boundary";
    let cookie = app.cookie_header();
    let send = |body: Vec<u8>| {
        let req = TestRequest::post()
            .uri("/showcase/new")
            .insert_header(("cookie", cookie.clone()))
            .insert_header((
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            ))
            .set_payload(body);
        call_service(&app.svc, req.to_request())
    };
    // 20,000 distinct small fields.
    let mut body = Vec::new();
    for i in 0..20_000 {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let res = send(body).await;
    assert_eq!(res.status().as_u16(), 413);
    // 200 MB in files.
    let mut body = Vec::with_capacity(201 << 20);
    for i in 0..20 {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"p{i}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes());
        body.extend(std::iter::repeat_n(0xAB_u8, 10 << 20));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let res = send(body).await;
    assert_eq!(res.status().as_u16(), 413);
    let page = String::from_utf8(actix_web::test::read_body(res).await.to_vec()).unwrap();
    assert!(page.contains("上传的内容合计不能超过"), "{page}");
    // A body without a declared length (sent chunked) is refused before a byte is read.
    let mut req = TestRequest::post()
        .uri("/showcase/new")
        .insert_header(("cookie", cookie.clone()))
        .insert_header((
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        ))
        .set_payload(format!("--{boundary}--\r\n"))
        .to_request();
    req.headers_mut()
        .remove(actix_web::http::header::CONTENT_LENGTH);
    let res = call_service(&app.svc, req).await;
    assert_eq!(res.status().as_u16(), 411);
    let page = String::from_utf8(actix_web::test::read_body(res).await.to_vec()).unwrap();
    assert!(page.contains("缺少长度信息"), "{page}");
    // The server still answers, and a normal form post goes through.
    app.get("/showcase/new").await.assert_status(200);
    app.post_multipart("/showcase/new", &[("title", "")], &[])
        .await
        .assert_status(422);
}

/// Values every form field gets in turn: out-of-range and malformed dates and numbers, huge
/// integers, NaN, empty, very long mixed-script text, NUL and control characters, case mappings
/// that change length, combining marks, right-to-left marks, emoji, full-width digits, SQL and
/// HTML fragments.
fn hostile_values() -> Vec<String> {
    let long: String = "工会İKÅΩe\u{301}\u{202E}😀ab12"
        .chars()
        .cycle()
        .take(20_000)
        .collect();
    [
        "",
        " ",
        "-262143-01-01T00:00",
        "+262142-12-31T23:59",
        "2026-02-30T25:61",
        "2026-13-45",
        "99999999999999999999",
        "9223372036854775808",
        "-2147483649",
        "-1",
        "0",
        "NaN",
        "inf",
        "1e308",
        "１２３４５",
        "İİİ\u{212A}\u{212B}\u{2126}",
        "a\u{0}b\u{1}\u{7f}",
        "\u{202E}evil\u{200B}",
        "e\u{301}\u{302}\u{303}",
        "😀👨‍👩‍👧",
        "' OR 1=1 --",
        "\"; DROP TABLE members; --",
        "<script>alert(1)</script>",
        "%_%\\",
        "\r\n\t",
        "../../etc/passwd",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([long])
    .collect()
}

fn html_decode(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// A POST form found on a page: action, whether multipart, and its fields (name, default).
#[derive(Debug, Clone)]
struct FoundForm {
    action: String,
    multipart: bool,
    fields: Vec<(String, String)>,
}

fn forms_of(page_path: &str, html: &str) -> Vec<FoundForm> {
    let form_re = regex_lite::Regex::new(r"(?s)<form([^>]*)>(.*?)</form>").unwrap();
    let attr = |tag: &str, name: &str| -> Option<String> {
        let re = regex_lite::Regex::new(&format!(r#"\b{name}="([^"]*)""#)).unwrap();
        re.captures(tag).map(|c| html_decode(&c[1]))
    };
    let input_re = regex_lite::Regex::new(r"<input[^>]*>").unwrap();
    let textarea_re = regex_lite::Regex::new(r"<textarea[^>]*>").unwrap();
    let select_re = regex_lite::Regex::new(r"(?s)<select([^>]*)>(.*?)</select>").unwrap();
    let button_re = regex_lite::Regex::new(r"<button[^>]*>").unwrap();
    let mut out = Vec::new();
    for f in form_re.captures_iter(html) {
        let tag = &f[1];
        let body = &f[2];
        if attr(tag, "method").is_none_or(|m| !m.eq_ignore_ascii_case("post")) {
            continue;
        }
        let action = attr(tag, "action").unwrap_or_else(|| page_path.to_string());
        let multipart = attr(tag, "enctype").is_some_and(|e| e.contains("multipart"));
        let mut fields = Vec::new();
        for i in input_re.find_iter(body) {
            let i = i.as_str();
            if let Some(name) = attr(i, "name") {
                fields.push((name, attr(i, "value").unwrap_or_default()));
            }
        }
        for t in textarea_re.find_iter(body) {
            if let Some(name) = attr(t.as_str(), "name") {
                fields.push((name, String::new()));
            }
        }
        for s in select_re.captures_iter(body) {
            if let Some(name) = attr(&s[1], "name") {
                let first = attr(&s[2], "value").unwrap_or_default();
                fields.push((name, first));
            }
        }
        for b in button_re.find_iter(body) {
            if let (Some(name), Some(value)) = (attr(b.as_str(), "name"), attr(b.as_str(), "value"))
            {
                fields.push((name, value));
                break;
            }
        }
        out.push(FoundForm {
            action,
            multipart,
            fields,
        });
    }
    out
}

/// Same-site links of a page worth following (no logout, assets, downloads or receipts).
fn links_of(html: &str) -> Vec<String> {
    let re = regex_lite::Regex::new(r##"href="(/[^"#]*)""##).unwrap();
    re.captures_iter(html)
        .map(|c| html_decode(&c[1]))
        .filter(|l| {
            !l.starts_with("/static/")
                && !l.starts_with("//")
                && !l.contains("export")
                && !l.contains("download")
                && !l.contains("/file")
                && !l.contains("/photo")
                && !l.contains("/cover")
                && !l.contains("/attachment")
        })
        .collect()
}

/// Shape of a path, so /x/12/y and /x/13/y count as one form.
fn shape(path: &str) -> String {
    let re = regex_lite::Regex::new(r"[0-9]+").unwrap();
    re.replace_all(path.split('?').next().unwrap_or(path), "N")
        .into_owned()
}

/// As each demo role: follow links from the home and admin pages, find every POST form the role
/// can reach, and submit each with every hostile value in every field (the CSRF token kept). No
/// answer may be a 5xx, a refusal must say why, and the server answers afterwards.
#[actix_web::test]
async fn every_reachable_form_survives_hostile_values_in_every_field() {
    let mut app = spawn_base().await;
    // Something behind every kind of form: content, a case, requests waiting for each role.
    app.with(|c, now| {
        pages_full(c, now, 3);
        benefit_catalogue(c, now);
        benefit_request(c, now, "demo-member", "健身卡补贴", "200", false);
        benefit_request(c, now, "demo-member-b", "退休慰问", "300", true);
        grievance(c, now, "demo-member", "加班费未发放");
        showcase_post(c, now, "demo-member", "等待审核的照片", false);
    });
    // Forms each role must have reached (so the crawl cannot quietly shrink).
    let expected: &[(&str, &[&str])] = &[
        (
            "demo-member",
            &["/signup", "/benefits/", "/comments", "/grievances/"],
        ),
        (
            "demo-cadre",
            &["/admin/grievances/", "/admin/benefits/", "/admin/showcase/"],
        ),
        ("demo-finance", &["/admin/benefits/"]),
    ];
    let values = hostile_values();
    let mut report = Vec::new();
    let mut total_posts = 0usize;
    let mut statuses = std::collections::BTreeMap::new();
    for role in [
        "demo-member",
        "demo-cadre",
        "demo-chair",
        "demo-finance",
        "demo-admin",
    ] {
        app.cookies.clear();
        app.login_ok(role).await;
        let mut seen_pages = std::collections::HashSet::new();
        let mut seen_forms = std::collections::HashSet::new();
        let mut forms = Vec::new();
        let mut queue: std::collections::VecDeque<String> =
            ["/", "/admin", "/me", "/grievances/new", "/grievances/track"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        while let Some(path) = queue.pop_front() {
            if seen_pages.len() >= 80 || !seen_pages.insert(shape(&path)) {
                continue;
            }
            let r = app.get(&path).await;
            if r.status.as_u16() >= 500 {
                report.push(format!("{role}: GET {path} -> {}", r.status));
            }
            if r.status != 200 || !r.header("content-type").starts_with("text/html") {
                continue;
            }
            for f in forms_of(&path, &r.body) {
                let key = shape(&f.action);
                if f.action == "/logout" || f.action == "/me/password" {
                    continue;
                }
                if seen_forms.insert(key) {
                    forms.push(f);
                }
            }
            queue.extend(links_of(&r.body));
        }
        assert!(
            forms.len() >= 3,
            "{role}: only {} forms found: {forms:?}",
            forms.len()
        );
        for (_, parts) in expected.iter().filter(|(r, _)| *r == role) {
            for part in parts.iter() {
                assert!(
                    forms.iter().any(|f| f.action.contains(part)),
                    "{role}: no form posting to …{part}… was reached: {:?}",
                    forms.iter().map(|f| &f.action).collect::<Vec<_>>()
                );
            }
        }
        for form in &forms {
            for v in &values {
                let fields: Vec<(&str, &str)> = form
                    .fields
                    .iter()
                    .filter(|(k, _)| k != "csrf_token")
                    .map(|(k, default)| {
                        // Keep the submit button's value so the handler's main branch runs.
                        if k == "action" || k == "decision" {
                            (k.as_str(), default.as_str())
                        } else {
                            (k.as_str(), v.as_str())
                        }
                    })
                    .collect();
                let r = if form.multipart {
                    app.post_multipart(&form.action, &fields, &[]).await
                } else {
                    app.post(&form.action, &fields).await
                };
                total_posts += 1;
                let s = r.status.as_u16();
                *statuses.entry(s).or_insert(0usize) += 1;
                // The token is always right: a CSRF refusal means the form never reached its
                // handler, and the test would prove nothing.
                if r.body.contains("请求已过期") {
                    report.push(format!(
                        "{role}: POST {} refused by the CSRF check",
                        form.action
                    ));
                }
                if s >= 500 {
                    report.push(format!(
                        "{role}: POST {} with {:?}… -> {s}",
                        form.action,
                        v.chars().take(20).collect::<String>()
                    ));
                } else if (400..500).contains(&s) && r.body.trim().is_empty() {
                    report.push(format!(
                        "{role}: POST {} -> {s} without a message",
                        form.action
                    ));
                }
                // A form may end the session (e.g. disabling an account): log in again.
                if !app.cookies.contains_key("zj_session") {
                    app.login_ok(role).await;
                }
            }
        }
        eprintln!("{role}: {} pages, {} forms", seen_pages.len(), forms.len());
    }
    eprintln!("{total_posts} posts, answers by status: {statuses:?}");
    assert!(
        report.is_empty(),
        "{} failures:\n{}",
        report.len(),
        report.join("\n")
    );
    assert!(total_posts > 500, "only {total_posts} posts");
    // Most hostile values are refused with a message in the form (422) or a flash (303).
    assert!(
        statuses.get(&422).copied().unwrap_or(0) > 100,
        "{statuses:?}"
    );
    app.get("/healthz").await.assert_status(200);
}
