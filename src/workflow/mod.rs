//! Case workflows shared by grievances and benefit requests: states and allowed transitions as
//! data, the guarded state change (one conditional UPDATE on state and version), time limits,
//! and database leases for background jobs that may run on several instances at once.

pub mod admin;
pub mod calendar;
pub mod lease;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text, Timestamp};

use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// A workflow state or action: a `text_enum!` code.
pub trait Code: Copy + PartialEq + std::fmt::Debug + 'static {
    fn code(self) -> &'static str;
}

/// One allowed move: `action` takes a case in any of `from` to `to`.
#[derive(Debug)]
pub struct Transition<S: 'static, A: 'static> {
    pub action: A,
    pub from: &'static [S],
    pub to: S,
}

/// A workflow: the table holding the cases (with `state`, `version`, `due_at`, `updated_at`
/// columns) and its transitions.
#[derive(Debug)]
pub struct Flow<S: 'static, A: 'static> {
    pub table: &'static str,
    pub transitions: &'static [Transition<S, A>],
}

impl<S: Code, A: Code> Flow<S, A> {
    /// The transition for `action` from `state`, if allowed.
    pub fn transition(&self, action: A, state: S) -> Option<&'static Transition<S, A>> {
        self.transitions
            .iter()
            .find(|t| t.action == action && t.from.contains(&state))
    }

    /// Whether `action` is allowed from `state`.
    pub fn allows(&self, action: A, state: S) -> bool {
        self.transition(action, state).is_some()
    }

    /// Actions allowed from `state`.
    pub fn actions(&self, state: S) -> Vec<A> {
        self.transitions
            .iter()
            .filter(|t| t.from.contains(&state))
            .map(|t| t.action)
            .collect()
    }
}

pub const CONFLICT: &str = "已被他人处理：该事项的状态刚刚发生了变化，请刷新后查看。";

/// Move case `id` by `action`, provided it is still in `state` at `version` (what the actor saw).
/// One conditional UPDATE: if another actor got there first, nothing changes and the result is
/// `Conflict`. Returns the new state. Call inside the transaction that writes the audit row.
#[allow(clippy::too_many_arguments)]
pub fn apply<S: Code, A: Code>(
    conn: &mut DbConnection,
    flow: &Flow<S, A>,
    id: i32,
    action: A,
    state: S,
    version: i32,
    due_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> AppResult<S> {
    let Some(t) = flow.transition(action, state) else {
        return Err(AppError::Conflict(CONFLICT.into()));
    };
    // The table name comes from a static Flow, never from input.
    let sql = format!(
        "UPDATE {} SET state = $1, version = version + 1, due_at = $2, updated_at = $3 \
         WHERE id = $4 AND state = $5 AND version = $6",
        flow.table
    );
    let changed = diesel::sql_query(sql)
        .bind::<Text, _>(t.to.code())
        .bind::<Nullable<Timestamp>, _>(due_at)
        .bind::<Timestamp, _>(now)
        .bind::<Integer, _>(id)
        .bind::<Text, _>(state.code())
        .bind::<Integer, _>(version)
        .execute(conn)?;
    if changed != 1 {
        return Err(AppError::Conflict(CONFLICT.into()));
    }
    Ok(t.to)
}

/// Midnight of the same day: what anonymous cases store instead of the exact time.
pub fn date_only(t: NaiveDateTime) -> NaiveDateTime {
    t.date().and_hms_opt(0, 0, 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use crate::grievances::model::{Action, State};
    use crate::grievances::service::FLOW;

    #[test]
    fn a_flow_offers_exactly_the_actions_its_transitions_allow() {
        let mut submitted: Vec<&str> = FLOW
            .actions(State::Submitted)
            .into_iter()
            .map(Action::as_str)
            .collect();
        submitted.sort_unstable();
        assert_eq!(submitted, ["accept", "escalate", "reject"]);
        assert!(FLOW.actions(State::Closed).is_empty());
        assert!(FLOW.transition(Action::Answer, State::Submitted).is_none());
        assert!(FLOW
            .transition(Action::Answer, State::Accepted)
            .is_some_and(|t| t.to == State::Answered));
        assert!(FLOW.allows(Action::Rate, State::Answered));
        assert!(!FLOW.allows(Action::Rate, State::Rated));
    }

    #[test]
    fn date_only_keeps_the_day_and_drops_the_time() {
        let t =
            chrono::NaiveDate::from_ymd_opt(2026, 11, 29).and_then(|d| d.and_hms_opt(21, 37, 5));
        let d = t.map(super::date_only);
        assert_eq!(
            d.map(|d| d.to_string()),
            Some("2026-11-29 00:00:00".to_string())
        );
    }
}
