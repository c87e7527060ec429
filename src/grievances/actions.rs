//! Every step on a case, one small function each: a cadre's (accept, reject, reply, note,
//! answer, assign, escalate, close), the member's (reply, rate, reopen) and the deadline
//! job's. Each goes through the one transition path of `src/workflow/` (`transition` for a
//! state change, `touch` for a step that changes none): guarded update, timeline line, audit
//! row and notifications in the caller's transaction.

use chrono::NaiveDateTime;

use super::model::{self, Action, Grievance, GrievanceChanges, State};
use super::service::{due_for, text_or, Limits, FLOW};
use crate::audit::Actor;
use crate::auth::User;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::org::{scope, OrgUnit};
use crate::outbox::{Kind, Out};
use crate::workflow::{self, date_only, By, Case, Line, Record};

impl Case for Grievance {
    type State = State;
    type Action = Action;

    fn flow() -> &'static workflow::Flow<State, Action> {
        &FLOW
    }
    fn id(&self) -> i32 {
        self.id
    }
    fn state(&self) -> State {
        self.state
    }
    fn version(&self) -> i32 {
        self.version
    }
    fn unit_id(&self) -> i32 {
        self.unit_id
    }
    fn audit_object(&self) -> (&'static str, String) {
        ("grievance", self.public_ref.clone())
    }
    fn timeline(
        &self,
        conn: &mut DbConnection,
        line: &Line<'_, State>,
        at: NaiveDateTime,
    ) -> AppResult<()> {
        model::insert_event(
            conn,
            &model::NewEvent {
                grievance_id: self.id,
                kind: line.kind,
                from_state: Some(self.state.as_str()),
                to_state: line.to.map(State::as_str),
                author_id: line.author.0,
                author_label: line.author.1,
                body: line.body,
                internal: line.internal,
                created_at: at,
            },
        )
    }
    /// A complaint's title never leaves the portal; an anonymous case sends nothing at all.
    fn outward(&self, kind: Kind) -> Out {
        if self.anonymous {
            Out::Never
        } else {
            Out::Generic(kind)
        }
    }
}

/// One notification to the member who filed the case (none for an anonymous case).
fn to_member(g: &Grievance, title: String) -> Vec<(i32, String, String)> {
    g.member_id
        .map(|m| (m, title, format!("/grievances/{}", g.public_ref)))
        .into_iter()
        .collect()
}

/// A cadre's step: the case as they saw it, its unit, and who they are.
pub(super) struct Cadre<'a> {
    pub g: &'a Grievance,
    pub unit: &'a OrgUnit,
    pub user: &'a User,
    pub by: By<'a>,
    pub limits: &'a Limits,
}

impl Cadre<'_> {
    fn now(&self) -> NaiveDateTime {
        self.by.actor.now
    }

    /// The time limit after `action`; an anonymous case's run from the day, not the moment.
    fn due(&self, action: Action) -> Option<NaiveDateTime> {
        let from = if self.g.anonymous {
            date_only(self.now())
        } else {
            self.now()
        };
        FLOW.transition(action, self.g.state)
            .and_then(|t| due_for(t.to, self.limits, from))
    }

    fn set(&self, conn: &mut DbConnection, changes: GrievanceChanges<'_>) -> AppResult<()> {
        let changes = GrievanceChanges {
            updated_at: Some(self.now()),
            ..changes
        };
        model::set_fields(conn, self.g.id, &changes)
    }
}

pub(super) fn accept(conn: &mut DbConnection, c: &Cadre<'_>) -> AppResult<()> {
    let g = c.g;
    let rec = Record {
        notify: to_member(g, format!("您的申诉“{}”已受理", g.title)),
        ..Record::new(crate::audit::AuditAction::GrievanceAccept)
    };
    workflow::transition(conn, g, Action::Accept, c.due(Action::Accept), &c.by, &rec)?;
    c.set(
        conn,
        GrievanceChanges {
            handler_id: Some(g.handler_id.or(Some(c.user.id))),
            ..Default::default()
        },
    )
}

pub(super) fn reject(conn: &mut DbConnection, c: &Cadre<'_>, reason: &str) -> AppResult<()> {
    let reason = text_or("请填写不予受理的理由", reason, 1000)?;
    let g = c.g;
    let rec = Record {
        body: &reason,
        detail: &reason,
        notify: to_member(g, format!("您的申诉“{}”不予受理", g.title)),
        ..Record::new(crate::audit::AuditAction::GrievanceReject)
    };
    workflow::transition(conn, g, Action::Reject, None, &c.by, &rec)?;
    c.set(
        conn,
        GrievanceChanges {
            reject_reason: Some(&reason),
            ..Default::default()
        },
    )
}

/// A reply to the member; the first one after acceptance starts the work (办理中).
pub(super) fn reply(conn: &mut DbConnection, c: &Cadre<'_>, text: &str) -> AppResult<()> {
    let text = text_or("请填写回复内容", text, 5000)?;
    let g = c.g;
    let rec = Record {
        kind: "reply",
        body: &text,
        notify: to_member(g, format!("您的申诉“{}”有新回复", g.title)),
        ..Record::new(crate::audit::AuditAction::GrievanceReply)
    };
    match g.state {
        State::Accepted => {
            workflow::transition(conn, g, Action::Start, c.due(Action::Start), &c.by, &rec)?;
            Ok(())
        }
        State::InProgress => workflow::touch(conn, g, &c.by, &rec),
        _ => Err(AppError::Validation("受理后才能回复".into())),
    }
}

/// An internal note: cadres see it, the member does not.
pub(super) fn note(conn: &mut DbConnection, c: &Cadre<'_>, text: &str) -> AppResult<()> {
    let text = text_or("请填写备注内容", text, 5000)?;
    let rec = Record {
        kind: "note",
        body: &text,
        internal: true,
        ..Record::new(crate::audit::AuditAction::GrievanceNote)
    };
    workflow::touch(conn, c.g, &c.by, &rec)
}

pub(super) fn answer(conn: &mut DbConnection, c: &Cadre<'_>, resolution: &str) -> AppResult<()> {
    let resolution = text_or("请填写处理结果", resolution, 5000)?;
    let g = c.g;
    let rec = Record {
        body: &resolution,
        notify: to_member(g, format!("您的申诉“{}”已答复，请评价", g.title)),
        ..Record::new(crate::audit::AuditAction::GrievanceAnswer)
    };
    workflow::transition(conn, g, Action::Answer, None, &c.by, &rec)?;
    c.set(
        conn,
        GrievanceChanges {
            resolution: Some(&resolution),
            answered_at: Some(c.now()),
            ..Default::default()
        },
    )
}

/// Hand the case to one cadre who answers for its unit.
pub(super) fn assign(conn: &mut DbConnection, c: &Cadre<'_>, cadre_id: i32) -> AppResult<()> {
    let g = c.g;
    let target = crate::members::model::find(conn, cadre_id)?;
    let reach = match &target {
        Some(_) if scope::responsible_cadres(conn, c.unit)?.contains(&cadre_id) => true,
        Some(m) if !m.disabled => crate::auth::user::load_user(conn, m.id, "")?
            .is_some_and(|t| scope::handles(&t, &c.unit.path)),
        _ => false,
    };
    let Some(name) = target.filter(|_| reach).map(|m| m.name) else {
        return Err(AppError::Validation(
            "只能指派给负责该单位的工会干部".into(),
        ));
    };
    let body = format!("指派给 {name}");
    let rec = Record {
        kind: "assign",
        body: &body,
        internal: true,
        audit: crate::audit::AuditAction::GrievanceAssign,
        detail: &name,
        notify: vec![(
            cadre_id,
            format!("指派给您的维权申诉：{}", g.title),
            format!("/admin/grievances/{}", g.public_ref),
        )],
    };
    workflow::touch(conn, g, &c.by, &rec)?;
    c.set(
        conn,
        GrievanceChanges {
            handler_id: Some(Some(cadre_id)),
            ..Default::default()
        },
    )
}

pub(super) fn close(conn: &mut DbConnection, c: &Cadre<'_>) -> AppResult<()> {
    let g = c.g;
    let rec = Record {
        notify: to_member(g, format!("您的申诉“{}”已办结", g.title)),
        ..Record::new(crate::audit::AuditAction::GrievanceClose)
    };
    workflow::transition(conn, g, Action::Close, None, &c.by, &rec)?;
    Ok(())
}

/// Hand the case up to the parent unit's cadres (已转办), by a cadre or, when `late`, by the
/// deadline job (which also marks it overdue).
pub(super) fn escalate(
    conn: &mut DbConnection,
    g: &Grievance,
    unit: &OrgUnit,
    limits: &Limits,
    by: &By<'_>,
    late: bool,
) -> AppResult<()> {
    let parent = match unit.parent_id {
        Some(p) => crate::org::model::find(conn, p)?.ok_or(AppError::NotFound)?,
        None => return Err(AppError::Validation("已是最高一级工会，无法再转办".into())),
    };
    let now = by.actor.now;
    let from = if g.anonymous { date_only(now) } else { now };
    let why = if late {
        format!("超过办理时限，转至{}", parent.name)
    } else {
        format!("转至{}", parent.name)
    };
    let mut notify: Vec<(i32, String, String)> = scope::responsible_cadres(conn, &parent)?
        .into_iter()
        .map(|c| {
            (
                c,
                format!("转办的维权申诉：{}", g.title),
                format!("/admin/grievances/{}", g.public_ref),
            )
        })
        .collect();
    notify.extend(to_member(
        g,
        format!("您的申诉“{}”已转上级工会办理", g.title),
    ));
    let rec = Record {
        body: &why,
        detail: if late { "超过办理时限" } else { "" },
        notify,
        ..Record::new(crate::audit::AuditAction::GrievanceEscalate)
    };
    let due = due_for(State::Escalated, limits, from);
    workflow::transition(conn, g, Action::Escalate, due, by, &rec)?;
    model::set_fields(
        conn,
        g.id,
        &GrievanceChanges {
            unit_id: Some(parent.id),
            handler_id: Some(None),
            overdue: late.then_some(true),
            escalations: Some(g.escalations.saturating_add(1)),
            updated_at: Some(now),
            ..Default::default()
        },
    )
}

/// The deadline job closes a case answered `REOPEN_DAYS` ago and never rated.
pub(super) fn auto_close(
    conn: &mut DbConnection,
    g: &Grievance,
    now: NaiveDateTime,
) -> AppResult<()> {
    let system = Actor::system("系统", now);
    let by = By {
        actor: &system,
        label: "系统",
        anonymous: false,
    };
    let rec = Record {
        body: "答复 7 天内未评价，自动办结",
        detail: "自动办结",
        ..Record::new(crate::audit::AuditAction::GrievanceClose)
    };
    workflow::transition(conn, g, Action::Close, None, &by, &rec)?;
    Ok(())
}

/// The member's step on their case; `by` is anonymous for an anonymous case.
pub(super) struct Member<'a> {
    pub g: &'a Grievance,
    pub by: By<'a>,
    pub limits: &'a Limits,
}

impl Member<'_> {
    /// The cadres told about the member's step: the handler, else those of the case's unit.
    fn to_cadres(
        &self,
        conn: &mut DbConnection,
        what: &str,
    ) -> AppResult<Vec<(i32, String, String)>> {
        let g = self.g;
        let recipients = match g.handler_id {
            Some(h) => vec![h],
            None => {
                let unit = crate::org::model::find(conn, g.unit_id)?.ok_or(AppError::NotFound)?;
                scope::responsible_cadres(conn, &unit)?
            }
        };
        Ok(recipients
            .into_iter()
            .map(|r| {
                (
                    r,
                    format!("{what}：{}", g.title),
                    format!("/admin/grievances/{}", g.public_ref),
                )
            })
            .collect())
    }
}

pub(super) fn member_reply(conn: &mut DbConnection, m: &Member<'_>, text: &str) -> AppResult<()> {
    let text = text_or("请填写回复内容", text, 5000)?;
    if m.g.is_final() {
        return Err(AppError::Validation("该申诉已结束，不能再回复".into()));
    }
    let rec = Record {
        kind: "reply",
        body: &text,
        notify: m.to_cadres(conn, "有新的会员回复")?,
        ..Record::new(crate::audit::AuditAction::GrievanceMemberReply)
    };
    workflow::touch(conn, m.g, &m.by, &rec)
}

pub(super) fn rate(
    conn: &mut DbConnection,
    m: &Member<'_>,
    rating: i32,
    comment: &str,
) -> AppResult<()> {
    if !(1..=5).contains(&rating) {
        return Err(AppError::Validation("请选择 1 到 5 星".into()));
    }
    let comment: String = comment.trim().chars().take(1000).collect();
    let body = format!("{rating} 星 {comment}");
    let rec = Record {
        body: &body,
        notify: m.to_cadres(conn, "会员已评价")?,
        ..Record::new(crate::audit::AuditAction::GrievanceRate)
    };
    workflow::transition(conn, m.g, Action::Rate, None, &m.by, &rec)?;
    model::set_fields(
        conn,
        m.g.id,
        &GrievanceChanges {
            rating: Some(rating),
            rating_comment: Some(&comment),
            updated_at: Some(m.by.at()),
            ..Default::default()
        },
    )
}

pub(super) fn reopen(conn: &mut DbConnection, m: &Member<'_>, reason: &str) -> AppResult<()> {
    let reason = text_or("请说明重新办理的理由", reason, 2000)?;
    if let Some(why) = m.g.reopen_refusal(m.by.actor.now) {
        return Err(AppError::Validation(why.into()));
    }
    let at = m.by.at();
    let rec = Record {
        body: &reason,
        notify: m.to_cadres(conn, "会员申请重新办理")?,
        ..Record::new(crate::audit::AuditAction::GrievanceReopen)
    };
    let due = due_for(State::InProgress, m.limits, at);
    workflow::transition(conn, m.g, Action::Reopen, due, &m.by, &rec)?;
    model::set_fields(
        conn,
        m.g.id,
        &GrievanceChanges {
            reopened: Some(true),
            updated_at: Some(at),
            ..Default::default()
        },
    )
}
