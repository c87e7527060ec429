//! Membership figures for the dashboard, in the viewer's scope: members, joins and leaves per
//! month, transfers in and out, and last month's dues collection rate.

use chrono::NaiveDateTime;

use super::model;
use crate::auth::User;
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::org::scope;

/// One month of the last twelve.
#[derive(Debug, Clone, Default)]
pub struct Month {
    /// "2026-05"
    pub month: String,
    pub joins: i64,
    pub leaves: i64,
    pub transfers_in: i64,
    pub transfers_out: i64,
}

#[derive(Debug, Clone, Default)]
pub struct MembershipFigures {
    pub members: i64,
    pub retired: i64,
    pub transferring: i64,
    pub months: Vec<Month>,
    /// Last month: members with dues recorded, of members.
    pub dues_month: String,
    pub dues_paid: i64,
    pub dues_of: i64,
}

impl MembershipFigures {
    pub fn dues_rate(&self) -> String {
        if self.dues_of == 0 {
            "—".into()
        } else {
            format!(
                "{:.0}%",
                self.dues_paid as f64 * 100.0 / self.dues_of as f64
            )
        }
    }
}

fn month_of(t: &NaiveDateTime) -> String {
    crate::time::beijing(t, "%Y-%m")
}

pub fn compute(
    conn: &mut DbConnection,
    user: &User,
    now: NaiveDateTime,
) -> AppResult<MembershipFigures> {
    let prefixes = scope::manage_prefixes(user);
    let in_scope = |path: &str| {
        prefixes
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| path.starts_with(p.as_str())))
    };
    let first = super::dues::months_back(now, 11);
    let mut months: Vec<Month> = (0..12)
        .rev()
        .map(|n| Month {
            month: super::dues::months_back(now, n),
            ..Month::default()
        })
        .collect();
    let mut bump = |m: String, f: &dyn Fn(&mut Month)| {
        if let Some(x) = months.iter_mut().find(|x| x.month == m) {
            f(x);
        }
    };
    let mut fig = MembershipFigures::default();
    // Counts per unit from SQL, summed over the units in scope (at most a few hundred rows),
    // never a row per member.
    let paths: std::collections::HashMap<i32, String> = crate::org::model::all(conn)?
        .into_iter()
        .map(|u| (u.id, u.path))
        .collect();
    let unit_in_scope = |id: &i32| paths.get(id).is_some_and(|p| in_scope(p));
    for (unit, status, n) in model::status_counts(conn)? {
        if !unit_in_scope(&unit) {
            continue;
        }
        let slot = match status.as_str() {
            "member" => &mut fig.members,
            "retired" => &mut fig.retired,
            "transferring" => &mut fig.transferring,
            _ => continue,
        };
        *slot = slot.saturating_add(n);
    }
    let since = crate::time::minus(now, chrono::Duration::days(372));
    for (unit, created) in model::created_since(conn, since)? {
        if unit_in_scope(&unit) {
            bump(month_of(&created), &|x| x.joins = x.joins.saturating_add(1));
        }
    }
    for (path, at) in model::leaves_since(conn, since)? {
        if in_scope(&path) {
            bump(month_of(&at), &|x| x.leaves = x.leaves.saturating_add(1));
        }
    }
    for (from, to, at) in model::transfers_done_since(conn, since)? {
        // A move inside the scope is neither in nor out.
        match (in_scope(&from), in_scope(&to)) {
            (false, true) => bump(month_of(&at), &|x| {
                x.transfers_in = x.transfers_in.saturating_add(1)
            }),
            (true, false) => bump(month_of(&at), &|x| {
                x.transfers_out = x.transfers_out.saturating_add(1)
            }),
            _ => {}
        }
    }
    fig.months = months.into_iter().filter(|m| m.month >= first).collect();
    fig.dues_month = super::dues::months_back(now, 1);
    let scope_units: Option<Vec<i32>> = prefixes.as_ref().map(|_| {
        paths
            .iter()
            .filter(|(_, p)| in_scope(p))
            .map(|(id, _)| *id)
            .collect()
    });
    fig.dues_of = fig.members;
    fig.dues_paid = model::paid_count(conn, scope_units.as_deref(), &fig.dues_month)?;
    Ok(fig)
}
