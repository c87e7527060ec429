//! Text as people type it and as URLs carry it: full-width to half-width, search input
//! cleaning, query-string encoding. Pure functions, used by domain code and pages alike.

/// Full-width digits and letters (０-９, Ａ-Ｚ) to ASCII, as people type them on Chinese IMEs.
pub fn to_halfwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => (c as u32)
                .checked_sub(0xFEE0)
                .and_then(char::from_u32)
                .unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// Search text from a query string: trimmed, without control characters (PostgreSQL refuses
/// NUL) and without LIKE wildcards, at most 50 characters.
pub fn clean_search(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && *c != '%' && *c != '_')
        .take(50)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Percent-encode for a query-string value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Free text as stored: trimmed, line ends as `\n`, other control characters dropped.
pub fn clean(s: &str) -> String {
    s.trim()
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect()
}

/// At most `n` characters of `s` (whole characters, never a split UTF-8 sequence).
pub fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
