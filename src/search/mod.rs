//! Search tokens: Chinese text becomes overlapping character pairs (the CJK-bigram scheme of
//! Lucene's CJKAnalyzer), so two-character words such as 工会 or 福利 are found without a
//! dictionary; Latin letters and digits become lowercase words. The same function tokenises
//! documents and queries; the index is FTS5 on SQLite and a tsvector on PostgreSQL.
//!
//! Site search (`/search`, in `page`) spans news, activities and the showcase, and reads each
//! through its own model functions.

pub mod page;

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    page::routes(cfg);
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Combining marks (accents, the dot of `İ` lower-cased): dropped, so they neither split a word
/// nor make it differ from the same word typed without them.
fn is_combining(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Tokens of `text`, in order, space-separable.
pub fn tokens(text: &str) -> Vec<String> {
    let text = crate::text::to_halfwidth(text);
    let mut out = Vec::new();
    let mut cjk: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_cjk = |cjk: &mut Vec<char>, out: &mut Vec<String>| {
        match cjk.as_slice() {
            [] => {}
            [only] => out.push(only.to_string()),
            _ => {
                for w in cjk.windows(2) {
                    out.push(w.iter().collect());
                }
            }
        }
        cjk.clear();
    };
    for c in text.chars() {
        if is_combining(c) {
            continue;
        }
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            cjk.push(c);
        } else if c.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut out);
            word.extend(c.to_lowercase().filter(|l| !is_combining(*l)));
        } else {
            flush_cjk(&mut cjk, &mut out);
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
        }
    }
    flush_cjk(&mut cjk, &mut out);
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The token column value for a document.
pub fn token_string(text: &str) -> String {
    tokens(text).join(" ")
}

/// Characters of `text` shown around the first hit: this many before it, this many in all.
const SNIPPET_BEFORE: usize = 20;
const SNIPPET_LEN: usize = 90;

/// Char ranges (start, end) in `chars` where one of `words` occurs, ignoring case and combining
/// marks. Matching runs over the lower-case chars, each remembering the index of the original
/// char it came from, so a char whose lower case has another length (İ, the Kelvin sign K,
/// Å U+212B) never shifts an offset.
fn hits(chars: &[char], words: &[Vec<char>]) -> Vec<(usize, usize)> {
    let fold = |c: char| c.to_lowercase().filter(|l| !is_combining(*l));
    let lower: Vec<(char, usize)> = chars
        .iter()
        .enumerate()
        .flat_map(|(i, c)| fold(*c).map(move |l| (l, i)))
        .collect();
    let needles: Vec<Vec<char>> = words
        .iter()
        .map(|w| w.iter().copied().flat_map(fold).collect::<Vec<char>>())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    for start in 0..lower.len() {
        for w in &needles {
            let Some(window) = start
                .checked_add(w.len())
                .and_then(|end| lower.get(start..end))
            else {
                continue;
            };
            if window.iter().map(|p| p.0).eq(w.iter().copied()) {
                if let (Some(first), Some(last)) = (window.first(), window.last()) {
                    out.push((first.1, last.1.saturating_add(1)));
                }
            }
        }
    }
    out
}

/// A snippet of `text` around the first hit of any word of `q`, as HTML: the text escaped, the
/// hits wrapped in `<mark>`. Total on any input.
pub fn snippet_html(text: &str, q: &str) -> String {
    let words: Vec<Vec<char>> = q.split_whitespace().map(|w| w.chars().collect()).collect();
    let chars: Vec<char> = text.chars().collect();
    let found = hits(&chars, &words);
    let first = found.iter().map(|h| h.0).min().unwrap_or(0);
    let start = first.saturating_sub(SNIPPET_BEFORE);
    let end = start.saturating_add(SNIPPET_LEN).min(chars.len());
    let mut html = String::new();
    let mut i = start;
    while i < end {
        // The longest hit starting here that fits inside the snippet.
        let hit_end = found
            .iter()
            .filter(|h| h.0 == i && h.1 <= end)
            .map(|h| h.1)
            .max();
        match hit_end {
            Some(e) => {
                html.push_str("<mark>");
                escape_into(&mut html, chars.get(i..e).unwrap_or_default());
                html.push_str("</mark>");
                i = e;
            }
            None => {
                escape_into(&mut html, chars.get(i..=i).unwrap_or_default());
                i = i.saturating_add(1);
            }
        }
    }
    html
}

fn escape_into(out: &mut String, chars: &[char]) {
    for c in chars {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(*c),
        }
    }
}
