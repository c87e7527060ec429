//! The invariants between denormalised counts and the rows they count, in one place: checked by
//! `zhijia check` on a live database, by the randomized concurrency test, and repaired by
//! `zhijia check --repair` (audited).
//!
//! - every activity: `confirmed_count` = its confirmed sign-ups ≤ capacity; waitlist positions
//!   are distinct and positive (the place shown to members is the rank, 1..n without gaps);
//! - every showcase post: `like_count` = its likes, `comment_count` = its visible comments;
//! - every budget: approved and paid requests drawing on it sum to at most its plan;
//! - every grievance and benefit request: its state is the state its last state event moved to;
//! - every survey: as many answer sheets as participants (anonymous ones too);
//! - every benefit request: one approval row per step passed (all of its chain once approved);
//! - no outbox message (WeCom, WeChat, SMS, e-mail) is about an anonymous grievance or letter:
//!   none opens a notification that links to one.

use std::collections::HashMap;

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::db::schema::{
    activities, activity_signups, benefit_approvals, benefit_events, benefit_requests, budgets,
    comments, grievance_events, grievances, showcase_likes, showcase_posts, survey_participants,
    survey_responses, surveys,
};
use crate::db::{write_tx, DbConnection};
use crate::error::AppResult;

/// One broken invariant, told so an operator can act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub what: &'static str,
    pub id: i32,
    pub detail: String,
    /// Whether `repair` recomputes it from the rows.
    pub repairable: bool,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.what, self.id, self.detail)
    }
}

fn counts<I: IntoIterator<Item = (i32, i64)>>(rows: I) -> HashMap<i32, i64> {
    rows.into_iter().collect()
}

/// Every invariant, checked on the database as it is now.
pub fn check(conn: &mut DbConnection) -> AppResult<Vec<Violation>> {
    let mut out = Vec::new();
    check_activities(conn, &mut out)?;
    check_showcase(conn, &mut out)?;
    check_budgets(conn, &mut out)?;
    check_states(conn, &mut out)?;
    check_surveys(conn, &mut out)?;
    check_approvals(conn, &mut out)?;
    check_outbox(conn, &mut out)?;
    check_dues(conn, &mut out)?;
    Ok(out)
}

/// A member's `last_dues_month` is the newest month of their dues rows (the arrears list
/// trusts it): a row written around `put_dues` would leave a member listed as behind.
fn check_dues(conn: &mut DbConnection, out: &mut Vec<Violation>) -> AppResult<()> {
    use diesel::sql_types::{Integer, Nullable, Text};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Integer)]
        id: i32,
        #[diesel(sql_type = Nullable<Text>)]
        kept: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        actual: Option<String>,
    }
    let rows: Vec<Row> = diesel::sql_query(
        // One key lookup per member (the dues key starts with the member): a join to a grouped
        // subquery ran for minutes on SQLite at 100,000 members.
        "SELECT id, kept, actual FROM (SELECT m.id, m.last_dues_month AS kept, \
           (SELECT MAX(d.month) FROM member_dues d WHERE d.member_id = m.id) AS actual \
           FROM members m) t \
         WHERE kept IS DISTINCT FROM actual",
    )
    .load(conn)?;
    out.extend(rows.into_iter().map(|r| Violation {
        what: "member dues",
        id: r.id,
        detail: format!(
            "last paid month kept as {} but the dues rows say {}",
            r.kept.as_deref().unwrap_or("none"),
            r.actual.as_deref().unwrap_or("none")
        ),
        repairable: true,
    }));
    Ok(())
}

/// Outbox messages that open a notification about an anonymous case or letter: a join on
/// the rows, not a trust in the call sites.
fn check_outbox(conn: &mut DbConnection, out: &mut Vec<Violation>) -> AppResult<()> {
    use diesel::sql_types::Integer;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Integer)]
        id: i32,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT o.id FROM outbox_messages o \
         JOIN notifications n ON o.link = '/notifications/' || n.public_ref \
         WHERE EXISTS (SELECT 1 FROM grievances g WHERE g.anonymous \
                       AND n.link LIKE '%/grievances/' || g.public_ref || '%') \
            OR EXISTS (SELECT 1 FROM mailbox_letters l WHERE l.anonymous \
                       AND n.link LIKE '%/mailbox/' || l.public_ref || '%')",
    )
    .load(conn)?;
    out.extend(rows.into_iter().map(|r| Violation {
        what: "outbox message",
        id: r.id,
        detail: "is about an anonymous grievance or letter".into(),
        repairable: false,
    }));
    Ok(())
}

fn check_activities(conn: &mut DbConnection, out: &mut Vec<Violation>) -> AppResult<()> {
    let confirmed = counts(
        activity_signups::table
            .filter(activity_signups::status.eq(crate::activities::model::SignupStatus::Confirmed))
            .group_by(activity_signups::activity_id)
            .select((activity_signups::activity_id, count_star()))
            .load::<(i32, i64)>(conn)?,
    );
    let rows: Vec<(i32, i32, i32)> = activities::table
        .select((
            activities::id,
            activities::confirmed_count,
            activities::capacity,
        ))
        .load(conn)?;
    for (id, count, capacity) in rows {
        let n = confirmed.get(&id).copied().unwrap_or(0);
        if i64::from(count) != n {
            out.push(Violation {
                what: "activity",
                id,
                detail: format!("confirmed_count {count}, confirmed sign-ups {n}"),
                repairable: true,
            });
        }
        if n > i64::from(capacity) {
            out.push(Violation {
                what: "activity",
                id,
                detail: format!("{n} confirmed sign-ups for {capacity} seats"),
                repairable: false,
            });
        }
    }
    let waiting: Vec<(i32, i32)> = activity_signups::table
        .filter(activity_signups::status.eq(crate::activities::model::SignupStatus::Waitlisted))
        .select((activity_signups::activity_id, activity_signups::position))
        .order((activity_signups::activity_id, activity_signups::position))
        .load(conn)?;
    for pair in waiting.windows(2) {
        if let [(a1, p1), (a2, p2)] = pair {
            if a1 == a2 && p1 == p2 {
                out.push(Violation {
                    what: "activity",
                    id: *a1,
                    detail: format!("two waitlisted sign-ups share position {p1}"),
                    repairable: false,
                });
            }
        }
    }
    if let Some((a, p)) = waiting.iter().find(|(_, p)| *p <= 0) {
        out.push(Violation {
            what: "activity",
            id: *a,
            detail: format!("waitlist position {p}"),
            repairable: false,
        });
    }
    Ok(())
}

fn showcase_counts(conn: &mut DbConnection) -> AppResult<(HashMap<i32, i64>, HashMap<i32, i64>)> {
    let likes = counts(
        showcase_likes::table
            .group_by(showcase_likes::post_id)
            .select((showcase_likes::post_id, count_star()))
            .load::<(i32, i64)>(conn)?,
    );
    let visible = counts(
        comments::table
            .filter(comments::owner_type.eq("showcase"))
            .filter(comments::hidden.eq(false))
            .group_by(comments::owner_id)
            .select((comments::owner_id, count_star()))
            .load::<(i32, i64)>(conn)?,
    );
    Ok((likes, visible))
}

fn check_showcase(conn: &mut DbConnection, out: &mut Vec<Violation>) -> AppResult<()> {
    let (likes, visible) = showcase_counts(conn)?;
    let rows: Vec<(i32, i32, i32)> = showcase_posts::table
        .select((
            showcase_posts::id,
            showcase_posts::like_count,
            showcase_posts::comment_count,
        ))
        .load(conn)?;
    for (id, like_count, comment_count) in rows {
        let l = likes.get(&id).copied().unwrap_or(0);
        let c = visible.get(&id).copied().unwrap_or(0);
        if i64::from(like_count) != l || i64::from(comment_count) != c {
            out.push(Violation {
                what: "showcase post",
                id,
                detail: format!(
                    "like_count {like_count} (likes {l}), comment_count {comment_count} (visible comments {c})"
                ),
                repairable: true,
            });
        }
    }
    Ok(())
}

fn check_budgets(conn: &mut DbConnection, out: &mut Vec<Violation>) -> AppResult<()> {
    let committed: Vec<(Option<i32>, i64)> = benefit_requests::table
        .filter(benefit_requests::state.eq_any(crate::benefits::model::COMMITTED_STATES))
        .filter(benefit_requests::budget_id.is_not_null())
        .select((benefit_requests::budget_id, benefit_requests::amount_fen))
        .load(conn)?;
    let mut sums: HashMap<i32, i64> = HashMap::new();
    for (b, amount) in committed {
        if let Some(b) = b {
            let e = sums.entry(b).or_insert(0);
            *e = e.saturating_add(amount);
        }
    }
    let plans: Vec<(i32, i64)> = budgets::table
        .select((budgets::id, budgets::planned_fen))
        .load(conn)?;
    for (id, planned) in plans {
        let used = sums.get(&id).copied().unwrap_or(0);
        if used > planned {
            out.push(Violation {
                what: "budget",
                id,
                detail: format!("approved and paid {used} fen over a plan of {planned} fen"),
                repairable: false,
            });
        }
    }
    Ok(())
}

/// The state each case's last state-changing event moved it to (events ordered by id).
fn last_states(events: Vec<(i32, Option<String>)>) -> HashMap<i32, String> {
    events
        .into_iter()
        .filter_map(|(case, to)| to.map(|to| (case, to)))
        .collect()
}

/// Cases whose state is not the one their last state event moved them to.
fn compare_states(
    what: &'static str,
    cases: Vec<(i32, String)>,
    last: &HashMap<i32, String>,
    out: &mut Vec<Violation>,
) {
    for (id, state) in cases {
        match last.get(&id) {
            Some(s) if *s == state => {}
            other => out.push(Violation {
                what,
                id,
                detail: format!("state {state}, last state event {other:?}"),
                repairable: false,
            }),
        }
    }
}

fn check_states(conn: &mut DbConnection, out: &mut Vec<Violation>) -> AppResult<()> {
    let last = last_states(
        grievance_events::table
            .filter(grievance_events::to_state.is_not_null())
            .order((grievance_events::grievance_id, grievance_events::id))
            .select((grievance_events::grievance_id, grievance_events::to_state))
            .load(conn)?,
    );
    let cases = grievances::table
        .select((grievances::id, grievances::state))
        .load(conn)?;
    compare_states("grievance", cases, &last, out);
    let last = last_states(
        benefit_events::table
            .filter(benefit_events::to_state.is_not_null())
            .order((benefit_events::request_id, benefit_events::id))
            .select((benefit_events::request_id, benefit_events::to_state))
            .load(conn)?,
    );
    let requests = benefit_requests::table
        .select((benefit_requests::id, benefit_requests::state))
        .load(conn)?;
    compare_states("benefit request", requests, &last, out);
    Ok(())
}

fn check_surveys(conn: &mut DbConnection, out: &mut Vec<Violation>) -> AppResult<()> {
    let sheets = counts(
        survey_responses::table
            .group_by(survey_responses::survey_id)
            .select((survey_responses::survey_id, count_star()))
            .load::<(i32, i64)>(conn)?,
    );
    let people = counts(
        survey_participants::table
            .group_by(survey_participants::survey_id)
            .select((survey_participants::survey_id, count_star()))
            .load::<(i32, i64)>(conn)?,
    );
    let ids: Vec<i32> = surveys::table.select(surveys::id).load(conn)?;
    for id in ids {
        let (s, p) = (
            sheets.get(&id).copied().unwrap_or(0),
            people.get(&id).copied().unwrap_or(0),
        );
        if s != p {
            out.push(Violation {
                what: "survey",
                id,
                detail: format!("{s} answer sheets, {p} participants"),
                repairable: false,
            });
        }
    }
    Ok(())
}

fn check_approvals(conn: &mut DbConnection, out: &mut Vec<Violation>) -> AppResult<()> {
    use crate::benefits::model::State;
    let rows = counts(
        benefit_approvals::table
            .group_by(benefit_approvals::request_id)
            .select((benefit_approvals::request_id, count_star()))
            .load::<(i32, i64)>(conn)?,
    );
    let requests: Vec<(i32, State, i32, String)> = benefit_requests::table
        .select((
            benefit_requests::id,
            benefit_requests::state,
            benefit_requests::step,
            benefit_requests::steps,
        ))
        .load(conn)?;
    for (id, state, step, steps) in requests {
        let have = rows.get(&id).copied().unwrap_or(0);
        let chain = steps.split(',').filter(|s| !s.is_empty()).count();
        let want = match state {
            State::Approved | State::Paid => i64::try_from(chain).unwrap_or(i64::MAX),
            // A rejected request keeps the steps it passed before the refusal.
            State::Submitted | State::Rejected => i64::from(step),
            // Returning clears the chain; withdrawing is only possible before the first
            // approval or while returned.
            State::Returned | State::Withdrawn => 0,
        };
        if have != want {
            out.push(Violation {
                what: "benefit request",
                id,
                detail: format!("{have} approval rows, {want} steps passed"),
                repairable: false,
            });
        }
    }
    Ok(())
}

/// Recompute every repairable count from its rows, in one transaction with one audit row per
/// repaired object. Returns what was repaired.
pub fn repair(conn: &mut DbConnection, actor: &Actor) -> AppResult<Vec<Violation>> {
    write_tx(conn, |conn| {
        let found: Vec<Violation> = check(conn)?.into_iter().filter(|v| v.repairable).collect();
        for v in &found {
            match v.what {
                "activity" => {
                    let n: i64 = activity_signups::table
                        .filter(activity_signups::activity_id.eq(v.id))
                        .filter(
                            activity_signups::status
                                .eq(crate::activities::model::SignupStatus::Confirmed),
                        )
                        .count()
                        .get_result(conn)?;
                    diesel::update(activities::table.find(v.id))
                        .set(activities::confirmed_count.eq(i32::try_from(n).unwrap_or(i32::MAX)))
                        .execute(conn)?;
                }
                "showcase post" => {
                    let likes: i64 = showcase_likes::table
                        .filter(showcase_likes::post_id.eq(v.id))
                        .count()
                        .get_result(conn)?;
                    let visible: i64 = comments::table
                        .filter(comments::owner_type.eq("showcase"))
                        .filter(comments::owner_id.eq(v.id))
                        .filter(comments::hidden.eq(false))
                        .count()
                        .get_result(conn)?;
                    diesel::update(showcase_posts::table.find(v.id))
                        .set((
                            showcase_posts::like_count.eq(i32::try_from(likes).unwrap_or(i32::MAX)),
                            showcase_posts::comment_count
                                .eq(i32::try_from(visible).unwrap_or(i32::MAX)),
                        ))
                        .execute(conn)?;
                }
                "member dues" => {
                    crate::membership::model::refresh_last_dues(conn, &[v.id])?;
                }
                _ => continue,
            }
            audit::record(
                conn,
                actor,
                None,
                crate::audit::AuditAction::CheckRepair,
                (v.what, Some(v.id)),
                &v.detail,
            )?;
        }
        Ok(found)
    })
}
