//! The best time to publish: the same planned activity forecast at the union's usual start
//! times on every day of the next four weeks, so a cadre can move it to when people come.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDateTime, Timelike};

use super::history::PastRow;
use super::{Model, Plan};
use crate::workflow::calendar::weekday_label;

/// How far ahead alternatives are looked for.
const DAYS_AHEAD: i64 = 28;
/// How many alternatives the form shows.
const SHOWN: usize = 3;

/// One alternative start.
#[derive(Debug, Clone)]
pub struct Slot {
    /// UTC start.
    pub starts_at: NaiveDateTime,
    /// The expected count (ranks the times).
    pub expected: f64,
    /// The point forecast shown (the median, as the form's own figure).
    pub point: f64,
}

impl Slot {
    pub fn shown(&self) -> i64 {
        self.point.round() as i64
    }
    /// "周三 19:00（12月2日）"
    pub fn label(&self) -> String {
        let local = crate::time::to_beijing(&self.starts_at);
        format!(
            "{} {}（{}月{}日）",
            weekday_label(local.weekday()),
            local.format("%H:%M"),
            local.month(),
            local.day()
        )
    }
}

/// The best other slots and one line on why they differ from the chosen one.
#[derive(Debug, Clone, Default)]
pub struct Alternatives {
    pub slots: Vec<Slot>,
    pub line: String,
}

/// When people can come: weekend, weekday evening, weekday working hours, other.
fn period(t: &NaiveDateTime) -> &'static str {
    let local = crate::time::to_beijing(t);
    if local.weekday().num_days_from_monday() >= 5 {
        "周末"
    } else if (18..=21).contains(&local.hour()) {
        "工作日晚间"
    } else if (9..=17).contains(&local.hour()) {
        "工作日白天"
    } else {
        "工作日清早或深夜"
    }
}

/// The union's usual start times (Beijing hour, minute): those at least one past activity in
/// twenty started at, at most four, most common first; without history, morning, afternoon
/// and evening.
pub fn usual_times(rows: &[PastRow]) -> Vec<(u32, u32)> {
    let mut n: HashMap<(u32, u32), usize> = HashMap::new();
    for r in rows {
        let l = crate::time::to_beijing(&r.plan.starts_at);
        *n.entry((l.hour(), l.minute())).or_default() += 1;
    }
    let mut times: Vec<((u32, u32), usize)> = n
        .into_iter()
        .filter(|(_, c)| c.saturating_mul(20) >= rows.len())
        .collect();
    times.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let times: Vec<(u32, u32)> = times.into_iter().take(4).map(|t| t.0).collect();
    if times.is_empty() {
        vec![(9, 30), (14, 30), (19, 0)]
    } else {
        times
    }
}

/// Forecast `plan` at each usual time of each day in the next four weeks (from `now`) and
/// keep the best start per weekday, best first, leaving out the chosen weekday × time.
pub fn alternatives(
    model: &Model,
    invited: &[(i32, i32)],
    plan: &Plan,
    usual: &[(u32, u32)],
    now: NaiveDateTime,
) -> Alternatives {
    let chosen = model.forecast(invited, plan).expected;
    let key = |t: &NaiveDateTime| {
        let l = crate::time::to_beijing(t);
        (l.weekday(), l.hour(), l.minute())
    };
    let today = crate::time::beijing_date(&now);
    // One slot per weekday (its best time and date), so the list offers different days.
    let mut best: HashMap<chrono::Weekday, Slot> = HashMap::new();
    for d in 1..=DAYS_AHEAD {
        let Some(day) = today.checked_add_signed(Duration::days(d)) else {
            continue;
        };
        for (h, m) in usual {
            let Some(local) = day.and_hms_opt(*h, *m, 0) else {
                continue;
            };
            let Some(starts_at) = crate::time::from_beijing(&local) else {
                continue;
            };
            if key(&starts_at) == key(&plan.starts_at) {
                continue;
            }
            // Sign-up opens as planned and closes as long before the start as planned.
            let shift = starts_at
                .signed_duration_since(plan.starts_at)
                .num_minutes() as f64;
            let p = Plan {
                starts_at,
                window_days: (plan.window_days + shift / 1440.0).max(0.5),
                ..plan.clone()
            };
            let f = model.forecast(invited, &p);
            let (expected, point) = (f.expected, f.median);
            let e = best.entry(key(&starts_at).0).or_insert(Slot {
                starts_at,
                expected,
                point,
            });
            // Ties go to the earlier day.
            if expected > e.expected + 1e-9 {
                *e = Slot {
                    starts_at,
                    expected,
                    point,
                };
            }
        }
    }
    let mut slots: Vec<Slot> = best.into_values().collect();
    slots.sort_by(|a, b| {
        b.expected
            .total_cmp(&a.expected)
            .then(a.starts_at.cmp(&b.starts_at))
    });
    let line = explain(chosen, &plan.starts_at, &slots);
    slots.truncate(SHOWN);
    Alternatives { slots, line }
}

/// "工作日晚间报名率比周末高约 40%": the best other time against the chosen one, or, when the
/// chosen time is already about the best, the chosen period against the best different one.
fn explain(chosen: f64, chosen_at: &NaiveDateTime, slots: &[Slot]) -> String {
    let Some(best) = slots.first() else {
        return String::new();
    };
    let percent = |a: f64, b: f64| ((a / b.max(1e-9) - 1.0) * 100.0).round();
    let from = period(chosen_at);
    let gain = percent(best.expected, chosen);
    if gain >= 5.0 {
        let to = period(&best.starts_at);
        return if to == from {
            format!("{}报名率比所选时间高约 {gain:.0}%。", best.label())
        } else {
            format!("{to}报名率比{from}高约 {gain:.0}%。")
        };
    }
    let other = slots
        .iter()
        .find(|s| period(&s.starts_at) != from && percent(chosen, s.expected) >= 5.0);
    match other {
        Some(o) => format!(
            "所选时间已接近最佳：{from}报名率比{}高约 {:.0}%。",
            period(&o.starts_at),
            percent(chosen, o.expected)
        ),
        None => "所选时间已接近最佳，其他时段相差不大。".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        // Beijing local → UTC.
        let l = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default();
        crate::time::from_beijing(&l).unwrap_or_default()
    }

    #[test]
    fn the_explanation_names_the_periods_and_the_gain() {
        let slot = |t: &str, expected: f64| Slot {
            starts_at: at(t),
            expected,
            point: expected,
        };
        let evening = slot("2026-12-02 19:00", 14.0);
        let weekend = slot("2026-12-05 10:00", 10.0);
        assert_eq!(
            explain(
                10.0,
                &at("2026-12-06 10:00"),
                &[evening.clone(), weekend.clone()]
            ),
            "工作日晚间报名率比周末高约 40%。"
        );
        assert_eq!(
            explain(
                10.0,
                &at("2026-12-03 20:00"),
                std::slice::from_ref(&evening)
            ),
            "周三 19:00（12月2日）报名率比所选时间高约 40%。"
        );
        assert_eq!(
            explain(
                14.0,
                &at("2026-12-03 19:00"),
                &[evening.clone(), weekend.clone()]
            ),
            "所选时间已接近最佳：工作日晚间报名率比周末高约 40%。"
        );
        assert_eq!(
            explain(
                13.9,
                &at("2026-12-03 19:00"),
                std::slice::from_ref(&evening)
            ),
            "所选时间已接近最佳，其他时段相差不大。"
        );
        assert_eq!(explain(10.0, &at("2026-12-03 20:00"), &[]), "");
    }
}
