//! The working-day calendar: Monday to Friday, except the public holidays and the make-up
//! working days (调休) that administrators enter each year from the State Council's schedule.
//! Time limits in working days count by it.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};
use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::db::schema::calendar_days;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};

/// Days that differ from the Monday-to-Friday pattern: `true` a working day (a make-up
/// Saturday), `false` a day off (a holiday on a weekday).
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    overrides: BTreeMap<NaiveDate, bool>,
}

/// One entered day, as the admin page lists it.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = calendar_days)]
pub struct CalendarDay {
    pub day: NaiveDate,
    pub working: bool,
    pub note: String,
}

impl CalendarDay {
    pub fn kind_label(&self) -> &'static str {
        if self.working {
            "调休上班"
        } else {
            "放假"
        }
    }

    pub fn weekday_label(&self) -> &'static str {
        weekday_label(self.day.weekday())
    }
}

pub fn weekday_label(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "周一",
        Weekday::Tue => "周二",
        Weekday::Wed => "周三",
        Weekday::Thu => "周四",
        Weekday::Fri => "周五",
        Weekday::Sat => "周六",
        Weekday::Sun => "周日",
    }
}

impl Calendar {
    pub fn from_days(days: &[CalendarDay]) -> Self {
        Calendar {
            overrides: days.iter().map(|d| (d.day, d.working)).collect(),
        }
    }

    /// Every entered day (a few dozen a year).
    pub fn load(conn: &mut DbConnection) -> AppResult<Self> {
        Ok(Self::from_days(&all(conn)?))
    }

    pub fn is_working(&self, day: NaiveDate) -> bool {
        self.overrides
            .get(&day)
            .copied()
            .unwrap_or(!matches!(day.weekday(), Weekday::Sat | Weekday::Sun))
    }

    /// `n` working days after `from`, counted on Beijing dates: the same time of day on the
    /// n-th working day after the day of `from`.
    pub fn add_working_days(&self, from: NaiveDateTime, n: u32) -> NaiveDateTime {
        let mut t = from;
        let mut left = n;
        while left > 0 {
            // Past chrono's last day there are no more working days to count.
            let Some(next) = t.checked_add_signed(chrono::Duration::days(1)) else {
                break;
            };
            t = next;
            if self.is_working(crate::time::beijing_date(&t)) {
                left = left.saturating_sub(1);
            }
        }
        t
    }
}

pub fn all(conn: &mut DbConnection) -> AppResult<Vec<CalendarDay>> {
    Ok(calendar_days::table
        .order(calendar_days::day.asc())
        .select(CalendarDay::as_select())
        .load(conn)?)
}

/// Parse lines of `日期,类型[,说明]` (类型: 休/放假 or 班/上班/调休上班; comma, tab or spaces
/// between). Every bad line is reported with its number; nothing is kept then.
pub fn parse_lines(text: &str) -> Result<Vec<CalendarDay>, Vec<String>> {
    let mut days = Vec::new();
    let mut errors = Vec::new();
    for (no, line) in (1..).zip(text.lines()) {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') || line.starts_with("日期") {
            continue;
        }
        let mut parts = line
            .split([',', '，', '\t', ' '])
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let (Some(date), Some(kind)) = (parts.next(), parts.next()) else {
            errors.push(format!("第 {no} 行：需要“日期,类型”两列"));
            continue;
        };
        let note: String = parts
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(40)
            .collect();
        let Ok(day) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
            errors.push(format!("第 {no} 行：日期“{date}”应写成 2026-10-01"));
            continue;
        };
        if !(2000..=2100).contains(&day.year()) {
            errors.push(format!("第 {no} 行：日期超出范围"));
            continue;
        }
        let working = match kind {
            "休" | "放假" | "假" => false,
            "班" | "上班" | "调休上班" | "补班" => true,
            other => {
                errors.push(format!("第 {no} 行：类型“{other}”应为“休”或“班”"));
                continue;
            }
        };
        days.push(CalendarDay { day, working, note });
    }
    if errors.is_empty() {
        Ok(days)
    } else {
        Err(errors)
    }
}

/// Enter or change days (admins), audited; a day entered again replaces its earlier entry.
pub fn set_days(conn: &mut DbConnection, actor: &Actor, days: &[CalendarDay]) -> AppResult<usize> {
    if days.is_empty() {
        return Err(AppError::Validation("请至少填写一天".into()));
    }
    write_tx(conn, |conn| {
        for d in days {
            diesel::delete(calendar_days::table.find(d.day)).execute(conn)?;
            diesel::insert_into(calendar_days::table)
                .values((
                    calendar_days::day.eq(d.day),
                    calendar_days::working.eq(d.working),
                    calendar_days::note.eq(&d.note),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            actor,
            None,
            crate::audit::AuditAction::SettingsCalendar,
            ("settings", None),
            &format!("工作日历：登记 {} 天", days.len()),
        )?;
        Ok(days.len())
    })
}

/// Remove one entered day (admins), audited.
pub fn remove_day(conn: &mut DbConnection, actor: &Actor, day: NaiveDate) -> AppResult<()> {
    write_tx(conn, |conn| {
        let n = diesel::delete(calendar_days::table.find(day)).execute(conn)?;
        if n == 0 {
            return Err(AppError::NotFound);
        }
        audit::record(
            conn,
            actor,
            None,
            crate::audit::AuditAction::SettingsCalendar,
            ("settings", None),
            &format!("工作日历：删除 {day}"),
        )
    })
}

/// The demo's year: the pattern of the State Council's schedule for 2026 (holidays with their
/// make-up working days). Real deployments enter each year's schedule when it is published.
pub const DEMO_2026: &str = "\
2026-01-01,休,元旦
2026-01-02,休,元旦
2026-01-04,班,元旦调休
2026-02-14,班,春节调休
2026-02-16,休,春节
2026-02-17,休,春节
2026-02-18,休,春节
2026-02-19,休,春节
2026-02-20,休,春节
2026-02-23,休,春节
2026-02-28,班,春节调休
2026-04-06,休,清明节
2026-05-01,休,劳动节
2026-05-04,休,劳动节
2026-05-05,休,劳动节
2026-05-09,班,劳动节调休
2026-06-19,休,端午节
2026-09-20,班,国庆节调休
2026-09-25,休,中秋节
2026-10-01,休,国庆节
2026-10-02,休,国庆节
2026-10-05,休,国庆节
2026-10-06,休,国庆节
2026-10-07,休,国庆节
2026-10-10,班,国庆节调休
";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn the_demo_year_parses_and_bad_lines_are_named() {
        let days = parse_lines(DEMO_2026).unwrap();
        assert!(days.len() > 20);
        let errs = parse_lines("2026-13-01,休\n2026-10-01,玩\n2026-10-01\n").unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with("第 1 行"));
    }

    #[test]
    fn blank_lines_comments_and_a_header_are_skipped_and_every_separator_works() {
        let text = "\u{feff}日期,类型,说明\n\n# 国庆\n2026-10-01，休，国庆节\n\n2026-10-10\t班\n2026-10-02 假 第二天\n";
        let days = parse_lines(text).unwrap();
        let got: Vec<(String, bool, &str)> = days
            .iter()
            .map(|d| (d.day.to_string(), d.working, d.note.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-10-01".to_string(), false, "国庆节"),
                ("2026-10-10".to_string(), true, ""),
                ("2026-10-02".to_string(), false, "第二天"),
            ]
        );
        assert_eq!(days[0].kind_label(), "放假");
        assert_eq!(days[1].kind_label(), "调休上班");
        assert_eq!(days[1].weekday_label(), "周六");
    }
}
