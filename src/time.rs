//! Beijing time: the one place where the naive UTC stored in the database meets the time people
//! type and read (UTC+8 all year). Every step is checked arithmetic: a value typed into a form is
//! refused outside [`MIN_YEAR`, `MAX_YEAR`], and formatting a stored value never panics.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Earliest and latest year a person may type into a date or time field.
pub const MIN_YEAR: i32 = 2000;
pub const MAX_YEAR: i32 = 2100;

/// The field message for a date outside the range above.
pub const OUT_OF_RANGE: &str = "日期超出范围（2000—2100年）";

const OFFSET_HOURS: i64 = 8;

fn offset() -> Duration {
    Duration::hours(OFFSET_HOURS)
}

/// Why a typed time was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputError {
    /// Not a date/time in the expected shape.
    Format,
    /// A real date, outside the years people may enter.
    OutOfRange,
}

impl InputError {
    /// The zh-CN field message; `format` says what shape was expected.
    pub fn message(self, format: &'static str) -> &'static str {
        match self {
            InputError::Format => format,
            InputError::OutOfRange => OUT_OF_RANGE,
        }
    }
}

fn in_range(d: NaiveDate) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&d.year())
}

/// UTC → Beijing wall time. Saturates at chrono's limits (only reachable with corrupt data).
pub fn to_beijing(t: &NaiveDateTime) -> NaiveDateTime {
    t.checked_add_signed(offset()).unwrap_or(*t)
}

/// Beijing wall time → UTC, `None` when outside chrono's range.
pub fn from_beijing(local: &NaiveDateTime) -> Option<NaiveDateTime> {
    local.checked_sub_signed(offset())
}

/// `t + d`, saturating at chrono's limits instead of panicking (only reachable with corrupt data).
pub fn plus(t: NaiveDateTime, d: Duration) -> NaiveDateTime {
    t.checked_add_signed(d).unwrap_or(if d < Duration::zero() {
        NaiveDateTime::MIN
    } else {
        NaiveDateTime::MAX
    })
}

/// `t - d`, saturating at chrono's limits instead of panicking (only reachable with corrupt data).
pub fn minus(t: NaiveDateTime, d: Duration) -> NaiveDateTime {
    t.checked_sub_signed(d).unwrap_or(if d < Duration::zero() {
        NaiveDateTime::MAX
    } else {
        NaiveDateTime::MIN
    })
}

/// The Beijing calendar day of a stored instant.
pub fn beijing_date(t: &NaiveDateTime) -> NaiveDate {
    to_beijing(t).date()
}

/// The Beijing hour (0–23) of a stored instant.
pub fn beijing_hour(t: &NaiveDateTime) -> u32 {
    to_beijing(t).hour()
}

/// 00:00 Beijing of `day`, as stored UTC.
pub fn day_start(day: NaiveDate) -> NaiveDateTime {
    let local = day.and_time(NaiveTime::MIN);
    from_beijing(&local).unwrap_or(local)
}

/// A `datetime-local` value ("2026-12-01T09:00", seconds optional) in Beijing time → UTC.
pub fn parse_input(s: &str) -> Result<NaiveDateTime, InputError> {
    let s = s.trim();
    let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| InputError::Format)?;
    if !in_range(local.date()) {
        return Err(InputError::OutOfRange);
    }
    from_beijing(&local).ok_or(InputError::OutOfRange)
}

/// A `date` value ("2026-12-31") in range.
pub fn parse_date_input(s: &str) -> Result<NaiveDate, InputError> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| InputError::Format)?;
    if in_range(d) {
        Ok(d)
    } else {
        Err(InputError::OutOfRange)
    }
}

/// A stored instant as a `datetime-local` value in Beijing time.
pub fn format_input(t: &NaiveDateTime) -> String {
    beijing(t, "%Y-%m-%dT%H:%M")
}

/// Show a stored time (naive UTC) in Beijing time, as people read it.
pub fn beijing(t: &NaiveDateTime, fmt: &str) -> String {
    format_time(&to_beijing(t), fmt)
}

/// The date of a stored date-only value (anonymous cases keep the UTC date, no time).
pub fn date_of(t: &NaiveDateTime) -> String {
    if t.time() == NaiveTime::MIN {
        format_time(t, "%Y-%m-%d")
    } else {
        beijing(t, "%Y-%m-%d")
    }
}

/// `strftime` for the fields pages use (%Y %m %d %H %M %S); anything else goes to chrono.
/// chrono parses the format string on every call, which cost ~3 % of a list page (perf).
pub fn format_time(t: &NaiveDateTime, fmt: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(fmt.len().saturating_add(8));
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (value, width) = match chars.next() {
            Some('Y') if (0..=9999).contains(&t.year()) => (t.year().unsigned_abs(), 4),
            Some('m') => (t.month(), 2),
            Some('d') => (t.day(), 2),
            Some('H') => (t.hour(), 2),
            Some('M') => (t.minute(), 2),
            Some('S') => (t.second(), 2),
            _ => return chrono_format(t, fmt),
        };
        let _ = write!(out, "{value:0width$}");
    }
    out
}

/// chrono's formatter, which reports an invalid format string as an error instead of text: an
/// unknown specifier must not panic inside `to_string`.
fn chrono_format(t: &NaiveDateTime, fmt: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if write!(out, "{}", t.format(fmt)).is_err() {
        out.clear();
    }
    out
}

/// Midnight of the same day: what anonymous cases store instead of the exact time.
pub fn date_only(t: NaiveDateTime) -> NaiveDateTime {
    t.date().and_hms_opt(0, 0, 0).unwrap_or(t)
}
