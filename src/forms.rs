//! What a form check produces and a list shows: per-field error messages (re-rendered with a
//! 422) and page numbers. Domain code returns these; pages print them.

/// Per-field messages for a form shown again with status 422.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(pub Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, msg: impl Into<String>) {
        self.0.push((field, msg.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`, or "" (templates print it only when non-empty).
    pub fn get(&self, field: &str) -> &str {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("", |(_, m)| m.as_str())
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _)| *f == field)
    }

    /// Attributes that tie a field's message to its control for screen readers (the message
    /// is `field_error`'s `err-{field}`), or "" when the field is fine. `field` is a literal
    /// written in the template, so the result is printed unescaped.
    pub fn aria(&self, field: &str) -> String {
        if self.has(field) {
            format!(r#" aria-invalid="true" aria-describedby="err-{field}""#)
        } else {
            String::new()
        }
    }

    /// A `datetime-local` field in Beijing time as UTC, or a field error: `bad` when it is not a
    /// time, "日期超出范围" when it is one outside 2000–2100.
    pub fn time(
        &mut self,
        field: &'static str,
        value: &str,
        bad: &'static str,
    ) -> Option<chrono::NaiveDateTime> {
        match crate::time::parse_input(value) {
            Ok(t) => Some(t),
            Err(err) => {
                self.add(field, err.message(bad));
                None
            }
        }
    }
}

/// Page numbers for a list.
#[derive(Debug, Clone)]
pub struct Pager {
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

impl Pager {
    pub fn new(page: Option<i64>, per_page: i64, total: i64) -> Self {
        let mut p = Pager {
            page: page.unwrap_or(1).max(1),
            per_page,
            total,
        };
        p.page = p.page.min(p.pages());
        p
    }

    pub fn pages(&self) -> i64 {
        self.total
            .saturating_add(self.per_page.saturating_sub(1))
            .checked_div(self.per_page)
            .unwrap_or(1)
            .max(1)
    }

    pub fn offset(&self) -> i64 {
        self.page.saturating_sub(1).saturating_mul(self.per_page)
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1
    }

    pub fn has_next(&self) -> bool {
        self.page < self.pages()
    }

    pub fn prev(&self) -> i64 {
        self.page.saturating_sub(1)
    }

    pub fn next(&self) -> i64 {
        self.page.saturating_add(1)
    }
}
