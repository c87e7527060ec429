//! Event rows, daily rollups, retention.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::Event;
use crate::db::schema::{engagement_daily, engagement_events};
use crate::db::DbConnection;
use crate::error::AppResult;

/// A raw event as stored.
#[derive(Queryable, Debug, Clone)]
pub struct Row {
    pub member_key: String,
    pub unit_id: i32,
    pub object_type: String,
    pub object_id: Option<i32>,
    pub action: String,
    pub hour: NaiveDateTime,
    pub device: String,
}

/// Raw events in [from, to), optionally only for some units.
pub fn between(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
    units: Option<&[i32]>,
) -> AppResult<Vec<Row>> {
    let mut q = engagement_events::table
        .filter(engagement_events::hour.ge(from))
        .filter(engagement_events::hour.lt(to))
        .into_boxed();
    if let Some(u) = units {
        q = q.filter(engagement_events::unit_id.eq_any(u.to_vec()));
    }
    Ok(q.select((
        engagement_events::member_key,
        engagement_events::unit_id,
        engagement_events::object_type,
        engagement_events::object_id,
        engagement_events::action,
        engagement_events::hour,
        engagement_events::device,
    ))
    .load(conn)?)
}

/// The UTC start of a Beijing calendar day.
pub fn day_start(day: NaiveDate) -> NaiveDateTime {
    crate::time::day_start(day)
}

/// Recompute the rollup rows of one Beijing day from the raw events (idempotent).
pub fn rollup_day(conn: &mut DbConnection, day: NaiveDate) -> AppResult<usize> {
    let from = day_start(day);
    let rows = between(conn, from, crate::time::plus(from, Duration::days(1)), None)?;
    let mut groups: HashMap<(i32, String, String, String), i32> = HashMap::new();
    for r in rows {
        let n = groups
            .entry((r.unit_id, r.object_type, r.action, r.device))
            .or_insert(0);
        *n = n.saturating_add(1);
    }
    diesel::delete(engagement_daily::table.filter(engagement_daily::day.eq(day))).execute(conn)?;
    // One statement per day; the text values are our own short identifiers (quotes dropped).
    let clean = |t: &str| {
        t.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>()
    };
    let values: Vec<String> = groups
        .iter()
        .map(|((unit, ot, action, device), n)| {
            format!(
                "('{day}', {unit}, '{}', '{}', '{}', {n})",
                clean(ot),
                clean(action),
                clean(device)
            )
        })
        .collect();
    for chunk in values.chunks(500) {
        use diesel::connection::SimpleConnection;
        let sql = format!(
            "INSERT INTO engagement_daily (day, unit_id, object_type, action, device, events) VALUES {}",
            chunk.join(", ")
        );
        match conn {
            DbConnection::Sqlite(c) => c.batch_execute(&sql)?,
            DbConnection::Postgres(c) => c.batch_execute(&sql)?,
        }
    }
    Ok(groups.len())
}

/// Rollup rows of a day range for some units: (day, unit, object type, action, device, events).
pub type DailyRow = (NaiveDate, i32, String, String, String, i32);

pub fn daily(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    units: Option<&[i32]>,
) -> AppResult<Vec<DailyRow>> {
    let mut q = engagement_daily::table
        .filter(engagement_daily::day.ge(from))
        .filter(engagement_daily::day.lt(to))
        .into_boxed();
    if let Some(u) = units {
        q = q.filter(engagement_daily::unit_id.eq_any(u.to_vec()));
    }
    Ok(q.select((
        engagement_daily::day,
        engagement_daily::unit_id,
        engagement_daily::object_type,
        engagement_daily::action,
        engagement_daily::device,
        engagement_daily::events,
    ))
    .load(conn)?)
}

/// Drop raw events older than `cutoff` (rollups stay).
pub fn purge_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> AppResult<usize> {
    Ok(
        diesel::delete(engagement_events::table.filter(engagement_events::hour.lt(cutoff)))
            .execute(conn)?,
    )
}

/// The latest rolled-up day, if any.
pub fn last_rolled_day(conn: &mut DbConnection) -> AppResult<Option<NaiveDate>> {
    Ok(engagement_daily::table
        .select(diesel::dsl::max(engagement_daily::day))
        .first(conn)?)
}

/// Direct figures for the dashboard, each one query, narrowed to `units` (None: everything).
pub mod figures {
    use super::*;
    use crate::db::schema::{
        activities, activity_signups, benefit_requests, budgets, grievances, members,
        survey_audiences, survey_responses, surveys,
    };

    pub fn member_count(
        conn: &mut DbConnection,
        units: Option<&[i32]>,
    ) -> AppResult<Vec<(i32, i64)>> {
        // Counted in SQL on the (disabled, unit_id) index: one row per unit, not per member.
        let active = members::table.filter(members::disabled.eq(false));
        let count = (members::unit_id, diesel::dsl::count_star());
        Ok(match units {
            Some(u) => active
                .filter(members::unit_id.eq_any(u))
                .group_by(members::unit_id)
                .select(count)
                .load(conn)?,
            None => active.group_by(members::unit_id).select(count).load(conn)?,
        })
    }

    /// (sign-ups confirmed, checked in) for activities published in scope that started in [from, to).
    pub fn attendance(
        conn: &mut DbConnection,
        units: Option<&[i32]>,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> AppResult<(i64, i64)> {
        let mut q = activity_signups::table
            .inner_join(activities::table)
            .filter(activities::starts_at.ge(from))
            .filter(activities::starts_at.lt(to))
            .filter(activity_signups::status.eq(crate::activities::model::SignupStatus::Confirmed))
            .into_boxed();
        if let Some(u) = units {
            q = q.filter(activities::unit_id.eq_any(u.to_vec()));
        }
        let rows: Vec<Option<NaiveDateTime>> =
            q.select(activity_signups::checked_in_at).load(conn)?;
        Ok((
            rows.len() as i64,
            rows.iter().filter(|r| r.is_some()).count() as i64,
        ))
    }

    /// (open, overdue) grievances of units in scope.
    pub fn cases(conn: &mut DbConnection, units: Option<&[i32]>) -> AppResult<(i64, i64)> {
        let mut q = grievances::table
            .filter(grievances::state.eq_any(crate::grievances::model::OPEN_STATES))
            .into_boxed();
        if let Some(u) = units {
            q = q.filter(grievances::unit_id.eq_any(u.to_vec()));
        }
        let rows: Vec<bool> = q.select(grievances::overdue).load(conn)?;
        Ok((
            rows.len() as i64,
            rows.iter().filter(|o| **o).count() as i64,
        ))
    }

    /// (committed = approved or paid, planned budget) in fen for a year.
    pub fn spend(
        conn: &mut DbConnection,
        units: Option<&[i32]>,
        year: i32,
    ) -> AppResult<(i64, i64)> {
        let mut q = benefit_requests::table
            .filter(benefit_requests::year.eq(year))
            .filter(benefit_requests::state.eq_any(crate::benefits::model::COMMITTED_STATES))
            .into_boxed();
        if let Some(u) = units {
            q = q.filter(benefit_requests::unit_id.eq_any(u.to_vec()));
        }
        let spent: Vec<i64> = q.select(benefit_requests::amount_fen).load(conn)?;
        let mut b = budgets::table.filter(budgets::year.eq(year)).into_boxed();
        if let Some(u) = units {
            b = b.filter(budgets::unit_id.eq_any(u.to_vec()));
        }
        let planned: Vec<i64> = b.select(budgets::planned_fen).load(conn)?;
        Ok((spent.iter().sum(), planned.iter().sum()))
    }

    /// Surveys published in scope since `from`: (title, responses, audience unit ids, anonymous).
    pub fn surveys_since(
        conn: &mut DbConnection,
        units: Option<&[i32]>,
        from: NaiveDateTime,
    ) -> AppResult<Vec<(String, i64, Vec<i32>)>> {
        let mut q = surveys::table
            .filter(surveys::opens_at.ge(from))
            .into_boxed();
        if let Some(u) = units {
            q = q.filter(surveys::unit_id.eq_any(u.to_vec()));
        }
        let list: Vec<(i32, String)> = q
            .order(surveys::opens_at.desc())
            .limit(20)
            .select((surveys::id, surveys::title))
            .load(conn)?;
        let mut out = Vec::new();
        for (id, title) in list {
            let n: i64 = survey_responses::table
                .filter(survey_responses::survey_id.eq(id))
                .count()
                .get_result(conn)?;
            let aud: Vec<i32> = survey_audiences::table
                .filter(survey_audiences::survey_id.eq(id))
                .select(survey_audiences::unit_id)
                .load(conn)?;
            out.push((title, n, aud));
        }
        Ok(out)
    }
}

/// Many events in few statements (500 rows each). Every value is generated by us (keys are hex
/// digests, kinds and actions are static strings, ids are numbers), so literal SQL is safe here.
pub fn insert_many(conn: &mut DbConnection, batch: &[Event]) -> AppResult<()> {
    use diesel::connection::SimpleConnection;
    use std::fmt::Write;
    // One String per chunk, written in place: at saturation a flush carries ~16 000 events, and
    // formatting each hour with chrono (which parses its format string) and allocating per
    // field was most of the flush's CPU. Events of one flush share an hour or two.
    let mut hour_text: Option<(NaiveDateTime, String)> = None;
    let mut sql = String::new();
    for chunk in batch.chunks(500) {
        sql.clear();
        sql.push_str(
            "INSERT INTO engagement_events \
             (member_key, unit_id, object_type, object_id, action, hour, device) VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            if hour_text.as_ref().is_none_or(|(h, _)| *h != e.hour) {
                hour_text = Some((e.hour, e.hour.format("%Y-%m-%d %H:%M:%S").to_string()));
            }
            let hour = hour_text.as_ref().map_or("", |(_, t)| t.as_str());
            if i > 0 {
                sql.push_str(", ");
            }
            // Keys are hex digests and the other texts are fixed words of ours; quotes are
            // dropped anyway so nothing can leave the literal.
            let _ = write!(sql, "('");
            sql.extend(e.member_key.chars().filter(|c| *c != '\''));
            let _ = write!(sql, "', {}, '{}', ", e.unit_id, e.object_type);
            match e.object_id {
                Some(id) => {
                    let _ = write!(sql, "{id}");
                }
                None => sql.push_str("NULL"),
            }
            let _ = write!(sql, ", '{}', '{hour}', '{}')", e.action, e.device);
        }
        match conn {
            DbConnection::Sqlite(c) => c.batch_execute(&sql)?,
            DbConnection::Postgres(c) => c.batch_execute(&sql)?,
        }
    }
    Ok(())
}
