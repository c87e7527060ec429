//! Case workflows shared by grievances and benefit requests: states and allowed transitions as
//! data (typed by each feature's `text_enum!` State and Action), the one transition path
//! (`transition` and `touch`: the guarded UPDATE on state and version, the timeline line, the
//! audit row and the notifications, in the caller's transaction, through the `Case` trait),
//! time limits on working days, and database leases for background jobs that may run on
//! several instances at once. A new workflow (membership, proposals) defines its enums, a
//! `Flow`, implements `Case` for its row, and writes each step as a small function.

pub use crate::time::date_only;
pub mod admin;
pub mod calendar;
pub mod lease;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text, Timestamp};

use crate::audit::{self, Actor};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::outbox::{Kind, Out};

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

/// A case row that moves through a `Flow`. The one transition path (`transition`, `touch`)
/// writes its guarded update, timeline row, audit row and notifications through these.
pub trait Case {
    type State: Code;
    type Action: Code;
    fn flow() -> &'static Flow<Self::State, Self::Action>;
    fn id(&self) -> i32;
    fn state(&self) -> Self::State;
    fn version(&self) -> i32;
    /// The unit whose cadres answer for the case (audit scope).
    fn unit_id(&self) -> i32;
    /// How the audit log names the case: a kind and a reference people can quote.
    fn audit_object(&self) -> (&'static str, String);
    /// Append one line to the case's timeline.
    fn timeline(
        &self,
        conn: &mut DbConnection,
        line: &Line<'_, Self::State>,
        at: NaiveDateTime,
    ) -> AppResult<()>;
    /// How much of a notification of `kind` about this case may leave the portal (WeCom,
    /// WeChat, SMS, e-mail): `Out::Never` for an anonymous case. No default: each kind of case
    /// decides, and a step by an anonymous member sends nothing out whatever it says.
    fn outward(&self, kind: Kind) -> Out;
}

/// Who acts. An anonymous member's steps are stored date-only and audited late
/// (`audit::record_anonymous`), so nothing dates them to the minute.
#[derive(Debug, Clone, Copy)]
pub struct By<'a> {
    pub actor: &'a Actor,
    /// The name the timeline shows ("匿名会员" for an anonymous member).
    pub label: &'a str,
    pub anonymous: bool,
}

impl By<'_> {
    /// When the step is recorded: the day only for an anonymous member.
    pub fn at(&self) -> NaiveDateTime {
        if self.anonymous {
            date_only(self.actor.now)
        } else {
            self.actor.now
        }
    }

    /// The timeline's author: nobody for an anonymous member.
    pub fn author(&self) -> (Option<i32>, &str) {
        if self.anonymous {
            (None, self.label)
        } else {
            (self.actor.id, self.label)
        }
    }
}

/// One timeline line: `kind` is what happened ("state" unless the step names it: "reply",
/// "note", "assign", …); `to` is the new state of a transition.
#[derive(Debug)]
pub struct Line<'a, S> {
    pub kind: &'a str,
    pub to: Option<S>,
    pub author: (Option<i32>, &'a str),
    pub body: &'a str,
    /// Cadres only (internal notes).
    pub internal: bool,
}

/// What a step records besides the state: timeline text, audit code and detail, and who is
/// notified (member id, title, link).
#[derive(Debug)]
pub struct Record<'a> {
    pub kind: &'a str,
    pub body: &'a str,
    pub internal: bool,
    pub audit: audit::AuditAction,
    pub detail: &'a str,
    pub notify: Vec<(i32, String, String)>,
}

impl Record<'_> {
    /// A step recorded under `audit`, with no timeline text, detail or notifications yet.
    pub fn new(audit: audit::AuditAction) -> Self {
        Record {
            kind: "",
            body: "",
            internal: false,
            audit,
            detail: "",
            notify: Vec::new(),
        }
    }
}

/// The one transition path: the guarded update on state and version (`apply`), the timeline
/// line, the audit row and the notifications, all in the caller's transaction. Returns the
/// new state; `Conflict` when another actor moved the case first (nothing is written then).
pub fn transition<C: Case>(
    conn: &mut DbConnection,
    case: &C,
    action: C::Action,
    due_at: Option<NaiveDateTime>,
    by: &By<'_>,
    rec: &Record<'_>,
) -> AppResult<C::State> {
    let at = by.at();
    let to = apply(
        conn,
        C::flow(),
        case.id(),
        action,
        case.state(),
        case.version(),
        due_at,
        at,
    )?;
    write_record(conn, case, Some(to), by, rec)?;
    Ok(to)
}

/// A step that changes no state (a reply, a note, an assignment): claims the version like a
/// transition, so two cadres acting on one page cannot both win, then records it the same way.
pub fn touch<C: Case>(
    conn: &mut DbConnection,
    case: &C,
    by: &By<'_>,
    rec: &Record<'_>,
) -> AppResult<()> {
    let sql = format!(
        "UPDATE {} SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3",
        C::flow().table
    );
    let changed = diesel::sql_query(sql)
        .bind::<Timestamp, _>(by.at())
        .bind::<Integer, _>(case.id())
        .bind::<Integer, _>(case.version())
        .execute(conn)?;
    if changed != 1 {
        return Err(AppError::Conflict(CONFLICT.into()));
    }
    write_record(conn, case, None, by, rec)
}

fn write_record<C: Case>(
    conn: &mut DbConnection,
    case: &C,
    to: Option<C::State>,
    by: &By<'_>,
    rec: &Record<'_>,
) -> AppResult<()> {
    let at = by.at();
    let line = Line {
        kind: if rec.kind.is_empty() {
            "state"
        } else {
            rec.kind
        },
        to,
        author: by.author(),
        body: rec.body,
        internal: rec.internal,
    };
    case.timeline(conn, &line, at)?;
    let (kind, reference) = case.audit_object();
    if by.anonymous {
        audit::record_anonymous(
            conn,
            Some(case.unit_id()),
            rec.audit,
            (kind, &reference),
            rec.detail,
            by.actor.now,
        )?;
    } else {
        audit::record_as(
            conn,
            by.actor,
            Some(case.unit_id()),
            rec.audit,
            (kind, Some(&reference)),
            rec.detail,
        )?;
    }
    for (member, title, link) in &rec.notify {
        let out = if by.anonymous {
            Out::Never
        } else {
            case.outward(Kind::of_link(link))
        };
        crate::notifications::notify(conn, *member, title, link, at, out)?;
    }
    Ok(())
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
    fn a_named_step_is_stamped_to_the_second_an_anonymous_one_to_the_day_and_nameless() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 29)
            .and_then(|d| d.and_hms_opt(21, 37, 5))
            .unwrap_or_default();
        let actor = crate::audit::Actor {
            id: Some(7),
            name: "王小明".into(),
            ip: None,
            now,
        };
        let named = super::By {
            actor: &actor,
            label: "王小明",
            anonymous: false,
        };
        assert_eq!(named.at(), now);
        assert_eq!(named.author(), (Some(7), "王小明"));
        let anonymous = super::By {
            label: "匿名会员",
            anonymous: true,
            ..named
        };
        assert_eq!(anonymous.at().to_string(), "2026-11-29 00:00:00");
        assert_eq!(anonymous.author(), (None, "匿名会员"));
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
