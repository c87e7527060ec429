//! Search tokens: Chinese text becomes overlapping character pairs (the CJK-bigram scheme of
//! Lucene's CJKAnalyzer), so two-character words such as 工会 or 福利 are found without a
//! dictionary; Latin letters and digits become lowercase words. The same function tokenises
//! documents and queries; the index is FTS5 on SQLite and a tsvector on PostgreSQL.

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Tokens of `text`, in order, space-separable.
pub fn tokens(text: &str) -> Vec<String> {
    let text = crate::web::to_halfwidth(text);
    let mut out = Vec::new();
    let mut cjk: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_cjk = |cjk: &mut Vec<char>, out: &mut Vec<String>| {
        match cjk.len() {
            0 => {}
            1 => out.push(cjk[0].to_string()),
            _ => {
                for w in cjk.windows(2) {
                    out.push(w.iter().collect());
                }
            }
        }
        cjk.clear();
    };
    for c in text.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            cjk.push(c);
        } else if c.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut out);
            word.extend(c.to_lowercase());
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
