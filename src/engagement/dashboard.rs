//! The cadre dashboard (`/admin/dashboard`): figures for the cadre's subtree only, trends, a
//! weekday × hour heat map, units ranked by engagement, all as server-drawn SVG; XLSX export.

use std::collections::{HashMap, HashSet};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{Datelike, Duration, NaiveDateTime, Timelike};

use super::model::{self, figures};
use crate::auth::user::StaffUser;
use crate::auth::User;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::org::{scope, OrgUnit};
use crate::state::AppState;
use crate::web::{render, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/dashboard", web::get().to(page))
        .route("/admin/dashboard.xlsx", web::get().to(xlsx));
}

/// One unit's line in the breakdown.
#[derive(Debug, Clone)]
pub struct UnitLine {
    pub name: String,
    pub members: i64,
    pub active30: i64,
    pub events30: i64,
}

impl UnitLine {
    pub fn rate(&self) -> f64 {
        if self.members == 0 {
            0.0
        } else {
            self.active30 as f64 / self.members as f64
        }
    }
    pub fn rate_label(&self) -> String {
        format!("{:.0}%", self.rate() * 100.0)
    }
    /// The name cut to fit beside a bar at 375 px (the full name is in the bar's title).
    pub fn short_name(&self) -> String {
        let name = self.name.trim_end_matches("工会");
        if name.chars().count() > 7 {
            format!("{}…", name.chars().take(6).collect::<String>())
        } else {
            name.to_string()
        }
    }
}

/// Everything the dashboard shows, computed for one scope.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub members: i64,
    pub active7: i64,
    pub active30: i64,
    pub reads30: i64,
    pub signups90: i64,
    pub attended90: i64,
    pub open_cases: i64,
    pub overdue_cases: i64,
    pub spent_fen: i64,
    pub budget_fen: i64,
    pub surveys: Vec<(String, i64, i64)>,
    /// Events per week, oldest first (12 weeks).
    pub weekly: Vec<(String, i64)>,
    /// [weekday][hour] events over 90 days (Beijing time).
    pub heat: Vec<Vec<i64>>,
    pub by_kind: Vec<(&'static str, i64)>,
    pub units: Vec<UnitLine>,
}

impl Figures {
    pub fn pct(&self, a: &i64, b: &i64) -> String {
        if *b == 0 {
            "—".into()
        } else {
            format!("{:.0}%", *a as f64 * 100.0 / *b as f64)
        }
    }
    pub fn yuan(fen: &i64) -> String {
        format!("{:.0}", *fen as f64 / 100.0)
    }
    pub fn weekly_max(&self) -> i64 {
        self.weekly.iter().map(|w| w.1).max().unwrap_or(0).max(1)
    }
    pub fn bar_h(&self, n: &i64) -> i64 {
        n.saturating_mul(100)
            .checked_div(self.weekly_max())
            .unwrap_or(0)
    }
    pub fn heat_max(&self) -> i64 {
        self.heat
            .iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or(0)
            .max(1)
    }
    /// The heat map in words, for screen readers: the three busiest weekday-hours.
    pub fn heat_summary(&self) -> String {
        const DAYS: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];
        let mut cells: Vec<(i64, usize, usize)> = self
            .heat
            .iter()
            .enumerate()
            .flat_map(|(d, row)| row.iter().enumerate().map(move |(h, n)| (*n, d, h)))
            .filter(|c| c.0 > 0)
            .collect();
        cells.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        if cells.is_empty() {
            return "近 90 天没有参与行为".to_string();
        }
        let top: Vec<String> = cells
            .iter()
            .take(3)
            .map(|(n, d, h)| format!("周{} {h} 时（{n} 次）", DAYS.get(*d).unwrap_or(&"")))
            .collect();
        format!("最活跃的时段：{}", top.join("、"))
    }
    /// Opacity class 0–5 for a heat-map cell.
    pub fn heat_level(&self, n: &i64) -> i64 {
        if *n == 0 {
            0
        } else {
            n.saturating_mul(4)
                .checked_div(self.heat_max())
                .unwrap_or(0)
                .saturating_add(1)
        }
    }
    /// Units with at least three members, most active first.
    fn ranked(&self) -> Vec<&UnitLine> {
        let mut u: Vec<&UnitLine> = self.units.iter().filter(|u| u.members >= 3).collect();
        u.sort_by(|a, b| {
            b.rate()
                .partial_cmp(&a.rate())
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.name.cmp(&b.name))
        });
        u
    }
    /// Up to three, and never more than half of the units, so the two lists never share one.
    fn list_len(&self) -> usize {
        (self.ranked().len() / 2).min(3)
    }
    pub fn most_engaged(&self) -> Vec<&UnitLine> {
        let n = self.list_len();
        self.ranked().into_iter().take(n).collect()
    }
    pub fn least_engaged(&self) -> Vec<&UnitLine> {
        let n = self.list_len();
        self.ranked().into_iter().rev().take(n).collect()
    }
    /// Bar length (of 200) for a unit's 30-day activity rate.
    pub fn rate_w(&self, u: &UnitLine) -> i64 {
        (u.rate() * 200.0).round().clamp(0.0, 200.0) as i64
    }
    /// Bar length (of 200) for one area's event count.
    pub fn kind_w(&self, n: &i64) -> i64 {
        let max = self.by_kind.iter().map(|k| k.1).max().unwrap_or(0).max(1);
        n.saturating_mul(200).checked_div(max).unwrap_or(0)
    }
    /// Height of the unit bar chart: one 22 px row per unit.
    pub fn units_h(&self) -> usize {
        self.units.len().saturating_mul(22).saturating_add(4)
    }
    pub fn kinds_h(&self) -> usize {
        self.by_kind.len().saturating_mul(22).saturating_add(4)
    }
}

const KIND_LABELS: [(&str, &str); 6] = [
    ("news", "资讯"),
    ("activity", "活动"),
    ("showcase", "风采"),
    ("survey", "问卷"),
    ("home", "首页"),
    ("search", "搜索"),
];

/// The units the cadre sees (their subtrees), or None for admins.
pub fn scope_units(
    conn: &mut DbConnection,
    user: &User,
) -> AppResult<(Option<Vec<i32>>, Vec<OrgUnit>)> {
    let ids = scope::managed_unit_ids(conn, user)?;
    let units = scope::managed_units(conn, user)?;
    Ok((ids, units))
}

/// Surveys published in scope since `from`: (title, responses, audience size in members).
fn survey_lines(
    conn: &mut DbConnection,
    scope: Option<&[i32]>,
    from: NaiveDateTime,
) -> AppResult<Vec<(String, i64, i64)>> {
    let mut surveys = Vec::new();
    let all = crate::org::model::all(conn)?;
    // Members per unit once, summed per survey's audience (it was a count per survey).
    let per_unit: HashMap<i32, i64> = figures::member_count(conn, None)?.into_iter().collect();
    for (title, n, aud) in figures::surveys_since(conn, scope, from)? {
        let paths: Vec<&str> = all
            .iter()
            .filter(|u| aud.contains(&u.id))
            .map(|u| u.path.as_str())
            .collect();
        let in_aud: Vec<i32> = all
            .iter()
            .filter(|u| paths.iter().any(|p| u.path.starts_with(p)))
            .map(|u| u.id)
            .collect();
        let size: i64 = in_aud
            .iter()
            .filter_map(|u| per_unit.get(u))
            .fold(0i64, |a, n| a.saturating_add(*n));
        surveys.push((title, n, size));
    }
    Ok(surveys)
}

/// Events per week for the last 12 Beijing weeks ending now, labelled by their first day.
fn weekly(events: &[model::Row], now: NaiveDateTime) -> Vec<(String, i64)> {
    (0..12)
        .rev()
        .map(|w| {
            let end = crate::time::minus(now, Duration::weeks(w));
            let start = crate::time::minus(end, Duration::days(7));
            let n = events
                .iter()
                .filter(|e| e.hour >= start && e.hour < end)
                .count() as i64;
            (crate::time::beijing(&start, "%m-%d"), n)
        })
        .collect()
}

/// Events per weekday (Monday first) and Beijing hour.
fn heat(events: &[model::Row]) -> Vec<Vec<i64>> {
    let mut heat = vec![vec![0i64; 24]; 7];
    for e in events {
        let t = crate::time::to_beijing(&e.hour);
        let day = t.weekday().num_days_from_monday() as usize;
        if let Some(cell) = heat.get_mut(day).and_then(|h| h.get_mut(t.hour() as usize)) {
            *cell = cell.saturating_add(1);
        }
    }
    heat
}

/// Per unit with members: members, distinct active members and events since `from`.
fn unit_lines(
    events: &[model::Row],
    units: &[crate::org::OrgUnit],
    counts: &[(i32, i64)],
    from: NaiveDateTime,
) -> Vec<UnitLine> {
    let mut per_unit: HashMap<i32, (HashSet<&str>, i64)> = HashMap::new();
    for e in events.iter().filter(|e| e.hour >= from) {
        let x = per_unit.entry(e.unit_id).or_default();
        x.0.insert(e.member_key.as_str());
        x.1 = x.1.saturating_add(1);
    }
    units
        .iter()
        .filter_map(|u| {
            let m = counts.iter().find(|c| c.0 == u.id).map_or(0, |c| c.1);
            let (a, n) = per_unit
                .get(&u.id)
                .map_or((0, 0), |x| (x.0.len() as i64, x.1));
            (m > 0).then(|| UnitLine {
                name: u.name.clone(),
                members: m,
                active30: a,
                events30: n,
            })
        })
        .collect()
}

pub fn compute(conn: &mut DbConnection, user: &User, now: NaiveDateTime) -> AppResult<Figures> {
    let (ids, units) = scope_units(conn, user)?;
    if ids.as_ref().is_some_and(|i| i.is_empty()) {
        return Err(AppError::Forbidden);
    }
    let scope = ids.as_deref();
    let counts = figures::member_count(conn, scope)?;
    let members: i64 = counts.iter().map(|c| c.1).sum();
    let events = model::between(
        conn,
        crate::time::minus(now, Duration::days(90)),
        crate::time::plus(now, Duration::hours(1)),
        scope,
    )?;
    let since = |d: i64| crate::time::minus(now, Duration::days(d));
    let active = |d: i64| {
        events
            .iter()
            .filter(|e| e.hour >= since(d))
            .map(|e| e.member_key.as_str())
            .collect::<HashSet<_>>()
            .len() as i64
    };
    let reads30 = events
        .iter()
        .filter(|e| e.hour >= since(30) && e.object_type == "news" && e.object_id.is_some())
        .count() as i64;
    let (signups90, attended90) = figures::attendance(conn, scope, since(90), now)?;
    let (open_cases, overdue_cases) = figures::cases(conn, scope)?;
    let year = crate::time::beijing_date(&now).year();
    let (spent_fen, budget_fen) = figures::spend(conn, scope, year)?;
    let surveys = survey_lines(conn, scope, since(180))?;
    let (weekly, heat) = (weekly(&events, now), heat(&events));
    let by_kind = KIND_LABELS
        .iter()
        .map(|(k, label)| {
            (
                *label,
                events
                    .iter()
                    .filter(|e| e.hour >= since(30) && e.object_type == *k)
                    .count() as i64,
            )
        })
        .collect();
    let units = unit_lines(&events, &units, &counts, since(30));
    Ok(Figures {
        members,
        active7: active(7),
        active30: active(30),
        reads30,
        signups90,
        attended90,
        open_cases,
        overdue_cases,
        spent_fen,
        budget_fen,
        surveys,
        weekly,
        heat,
        by_kind,
        units,
    })
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
pub struct DashboardPage {
    ctx: Ctx,
    f: Figures,
    /// 会员管理 figures in the same scope.
    ms: crate::membership::stats::MembershipFigures,
    weekdays: [&'static str; 7],
}

impl DashboardPage {
    fn wd(&self, i: &usize) -> &'static str {
        self.weekdays.get(*i).copied().unwrap_or("")
    }
}

async fn page(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let (f, ms) = db::run(&state.pool, move |conn| {
        Ok((
            compute(conn, &user, now)?,
            crate::membership::stats::compute(conn, &user, now)?,
        ))
    })
    .await?;
    render(&DashboardPage {
        ctx,
        f,
        ms,
        weekdays: ["一", "二", "三", "四", "五", "六", "日"],
    })
}

async fn xlsx(state: web::Data<AppState>, StaffUser(user): StaffUser) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let f = db::run(&state.pool, move |conn| compute(conn, &user, now)).await?;
    let bytes = to_xlsx(&f)?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"dashboard.xlsx\"",
        ))
        .body(bytes))
}

fn to_xlsx(f: &Figures) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet().set_name("概览").map_err(err)?;
    let rows: Vec<(&str, f64)> = vec![
        ("会员数", f.members as f64),
        ("近 7 天活跃会员", f.active7 as f64),
        ("近 30 天活跃会员", f.active30 as f64),
        ("近 30 天资讯阅读", f.reads30 as f64),
        ("近 90 天活动报名", f.signups90 as f64),
        ("近 90 天活动签到", f.attended90 as f64),
        ("在办申诉", f.open_cases as f64),
        ("超期申诉", f.overdue_cases as f64),
        ("本年普惠支出（元）", f.spent_fen as f64 / 100.0),
        ("本年普惠预算（元）", f.budget_fen as f64 / 100.0),
    ];
    for (i, (k, v)) in rows.iter().enumerate() {
        ws.write_string_with_format(i as u32, 0, *k, &bold)
            .map_err(err)?;
        ws.write_number(i as u32, 1, *v).map_err(err)?;
    }
    ws.set_column_width(0, 22).map_err(err)?;
    let ws = wb.add_worksheet().set_name("各单位").map_err(err)?;
    for (c, h) in ["单位", "会员", "近30天活跃", "活跃率", "近30天行为数"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (i, u) in f.units.iter().enumerate() {
        let r = (i as u32).saturating_add(1);
        ws.write_string(r, 0, &u.name).map_err(err)?;
        ws.write_number(r, 1, u.members as f64).map_err(err)?;
        ws.write_number(r, 2, u.active30 as f64).map_err(err)?;
        ws.write_number(r, 3, u.rate()).map_err(err)?;
        ws.write_number(r, 4, u.events30 as f64).map_err(err)?;
    }
    ws.set_column_width(0, 24).map_err(err)?;
    let ws = wb.add_worksheet().set_name("问卷").map_err(err)?;
    for (c, h) in ["问卷", "答卷", "调查范围会员"].iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (i, (t, n, size)) in f.surveys.iter().enumerate() {
        let r = (i as u32).saturating_add(1);
        ws.write_string(r, 0, t).map_err(err)?;
        ws.write_number(r, 1, *n as f64).map_err(err)?;
        ws.write_number(r, 2, *size as f64).map_err(err)?;
    }
    wb.save_to_buffer().map_err(err)
}
