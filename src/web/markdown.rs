//! Markdown written by cadres becomes sanitised HTML; only `SafeHtml` is ever printed unescaped.

use std::fmt;

/// HTML that went through the sanitiser. The only type templates print with `|safe`.
#[derive(Debug, Clone, Default)]
pub struct SafeHtml(String);

impl SafeHtml {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SafeHtml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Render Markdown and sanitise the result: no script, no event handlers, no javascript: URLs,
/// links open safely.
pub fn render(markdown: &str) -> SafeHtml {
    use pulldown_cmark::{html, Options, Parser};
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut raw = String::with_capacity(markdown.len().saturating_mul(2));
    html::push_html(&mut raw, Parser::new_ext(markdown, opts));
    let clean = ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&raw)
        .to_string();
    SafeHtml(clean)
}

/// Wrap HTML we built ourselves from escaped text plus our own `<mark>` tags, after passing it
/// through the sanitiser as well.
pub fn render_trusted_fragment(html: String) -> SafeHtml {
    let clean = ammonia::Builder::empty()
        .add_tags(["mark"])
        .clean(&html)
        .to_string();
    SafeHtml(clean)
}
