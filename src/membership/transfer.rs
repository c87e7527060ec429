//! 转会: a member moves to another unit. A cadre over the member (or the member) starts it,
//! the sending unit releases, the receiving unit accepts. Between two subsidiaries both steps
//! need the chairs. On acceptance the member's unit changes, their grid cadre is cleared, and
//! their open named grievances and live benefit requests are handed to the new unit (each case
//! gets a timeline line and the new unit's cadres a notification). Anonymous grievances carry
//! no member and stay where they are. The member's history stays with them.

use chrono::NaiveDateTime;

use super::model::{self, Transfer};
use super::Status;
use crate::audit::{Actor, AuditAction};
use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::org::{scope, OrgUnit, Role};
use crate::outbox::{Kind, Out};
use crate::workflow::{self, By, Case, Flow, Line, Record, Transition};

crate::text_enum! {
    /// Where a transfer stands. Stored in `member_transfers.state`.
    pub enum State {
        Requested = ("requested", "待转出单位同意"),
        Released = ("released", "待转入单位接收"),
        Accepted = ("accepted", "已完成"),
        Refused = ("refused", "未通过"),
        Cancelled = ("cancelled", "已撤回"),
    }
}

crate::text_enum! {
    pub enum Action {
        Release = ("release", "同意转出"),
        Accept = ("accept", "接收"),
        Refuse = ("refuse", "不同意"),
        Cancel = ("cancel", "撤回"),
    }
}

pub static FLOW: Flow<State, Action> = Flow {
    table: "member_transfers",
    transitions: &[
        Transition {
            action: Action::Release,
            from: &[State::Requested],
            to: State::Released,
        },
        Transition {
            action: Action::Accept,
            from: &[State::Released],
            to: State::Accepted,
        },
        Transition {
            action: Action::Refuse,
            from: &[State::Requested, State::Released],
            to: State::Refused,
        },
        Transition {
            action: Action::Cancel,
            from: &[State::Requested, State::Released],
            to: State::Cancelled,
        },
    ],
};

impl Case for Transfer {
    type State = State;
    type Action = Action;
    fn flow() -> &'static Flow<State, Action> {
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
        match self.state {
            State::Requested => self.from_unit_id,
            _ => self.to_unit_id,
        }
    }
    fn audit_object(&self) -> (&'static str, String) {
        ("member_transfer", self.id.to_string())
    }
    fn timeline(
        &self,
        conn: &mut DbConnection,
        line: &Line<'_, State>,
        at: NaiveDateTime,
    ) -> AppResult<()> {
        model::insert_transfer_event(
            conn,
            self.id,
            line.kind,
            Some(self.state.as_str()),
            line.to.map(State::as_str),
            line.author,
            line.body,
            at,
        )
    }
    fn outward(&self, kind: Kind) -> Out {
        Out::Full(kind)
    }
}

/// Between two subsidiaries (different second-level units) both steps need a chair.
pub fn cross_company(from: &OrgUnit, to: &OrgUnit) -> bool {
    scope::company_of(&from.path) != scope::company_of(&to.path)
}

/// Whether the user may release (sending side) or accept (receiving side): a cadre or chair
/// over that side's unit; a chair when the transfer crosses subsidiaries. A chair over both
/// units may do both steps. Refusing is for either side.
pub fn may_act(user: &User, action: Action, state: State, from: &OrgUnit, to: &OrgUnit) -> bool {
    if !FLOW.allows(action, state) {
        return false;
    }
    let side = |u: &OrgUnit| {
        if cross_company(from, to) {
            scope::holds_over(user, &u.path, &[Role::Chair])
        } else {
            scope::handles(user, &u.path)
        }
    };
    match action {
        Action::Release => side(from),
        Action::Accept => side(to),
        Action::Refuse => match state {
            State::Requested => side(from),
            _ => side(to),
        },
        Action::Cancel => false,
    }
}

/// Start a transfer of `member_id` to `to_unit`: by a cadre over the member or by the member.
pub fn start(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    member_id: i32,
    to_unit: i32,
    reason: &str,
) -> AppResult<i32> {
    let reason = crate::text::clean(reason);
    if reason.chars().count() < 2 || reason.chars().count() > 300 {
        return Err(AppError::field("reason", "请写明转会原因（300 字以内）"));
    }
    write_tx(conn, |conn| {
        let (member, from, to) = who_and_where(conn, user, member_id, to_unit)?;
        let id =
            model::insert_transfer(conn, member.id, from.id, to.id, &reason, user.id, actor.now)
                .map_err(|e| match e {
                    AppError::Database(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => AppError::Validation("该会员已有一项转会在办理中".into()),
                    other => other,
                })?;
        model::insert_transfer_event(
            conn,
            id,
            "state",
            None,
            Some(State::Requested.as_str()),
            (Some(user.id), &user.name),
            &format!("申请从{}转入{}：{reason}", from.name, to.name),
            actor.now,
        )?;
        crate::audit::record(
            conn,
            actor,
            Some(from.id),
            AuditAction::TransferStart,
            ("member_transfer", Some(id)),
            &format!("{} {} → {}", member.employee_no, from.name, to.name),
        )?;
        mark_transferring(conn, actor, &member, &from, &to, id)?;
        Ok(id)
    })
}

/// The member (the user themself, or one the user may manage: a cadre cannot move their
/// chair, a fellow cadre or an administrator), their unit and the unit they go to.
fn who_and_where(
    conn: &mut DbConnection,
    user: &User,
    member_id: i32,
    to_unit: i32,
) -> AppResult<(crate::members::model::Member, OrgUnit, OrgUnit)> {
    let (member, from) = if member_id == user.id {
        let m = crate::members::model::find(conn, member_id)?.ok_or(AppError::NotFound)?;
        let u = crate::org::model::find(conn, m.unit_id)?.ok_or(AppError::NotFound)?;
        (m, u)
    } else {
        crate::members::service::load_in_scope(conn, user, member_id)?
    };
    let status = Status::parse(&member.status);
    if member.disabled || status != Some(Status::Member) {
        let label = status.map_or_else(|| member.status.clone(), |s| s.label().to_string());
        return Err(AppError::Validation(format!(
            "会籍状态为“{label}”，不能发起转会"
        )));
    }
    let to = crate::org::model::find(conn, to_unit)?
        .filter(|u| !u.disabled)
        .ok_or_else(|| AppError::field("to_unit", "请选择转入单位"))?;
    if to.id == from.id {
        return Err(AppError::field("to_unit", "转入单位与现在的单位相同"));
    }
    Ok((member, from, to))
}

/// The member's status becomes 转会中 (guarded: a leave or another transfer that got there
/// first wins) and the sending side is told.
fn mark_transferring(
    conn: &mut DbConnection,
    actor: &Actor,
    member: &crate::members::model::Member,
    from: &OrgUnit,
    to: &OrgUnit,
    id: i32,
) -> AppResult<()> {
    if !super::model::swap_status(
        conn,
        member.id,
        &[Status::Member],
        Status::Transferring,
        actor.now,
    )? {
        return Err(AppError::Conflict(workflow::CONFLICT.into()));
    }
    super::set_status(
        conn,
        actor,
        member.id,
        Status::Transferring,
        from.id,
        &format!("转入{}", to.name),
    )?;
    for cadre in side_people(conn, from, to, from)? {
        crate::notifications::notify(
            conn,
            cadre,
            &format!("转会待转出单位同意：{}", member.name),
            &format!("/admin/membership/transfers/{id}"),
            actor.now,
            Out::Full(Kind::Approval),
        )?;
    }
    Ok(())
}

/// Who acts for one side: its chairs across subsidiaries, else its responsible cadres.
fn side_people(
    conn: &mut DbConnection,
    from: &OrgUnit,
    to: &OrgUnit,
    side: &OrgUnit,
) -> AppResult<Vec<i32>> {
    if cross_company(from, to) {
        scope::nearest_holders(conn, side, &[Role::Chair])
    } else {
        scope::responsible_cadres(conn, side)
    }
}

/// A transfer the user may see: a cadre over either unit, or the member themself.
pub fn load_for(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
) -> AppResult<(Transfer, OrgUnit, OrgUnit)> {
    let t = model::find_transfer(conn, id)?.ok_or(AppError::NotFound)?;
    let from = crate::org::model::find(conn, t.from_unit_id)?.ok_or(AppError::NotFound)?;
    let to = crate::org::model::find(conn, t.to_unit_id)?.ok_or(AppError::NotFound)?;
    if t.member_id != user.id
        && !scope::handles(user, &from.path)
        && !scope::handles(user, &to.path)
    {
        return Err(AppError::NotFound);
    }
    Ok((t, from, to))
}

/// A step on a transfer the user saw at `version`.
pub fn act(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    version: i32,
    action: Action,
    note: &str,
) -> AppResult<State> {
    let note = crate::text::clean(note);
    if action == Action::Refuse && note.chars().count() < 2 {
        return Err(AppError::field("note", "不同意时请写明原因"));
    }
    if note.chars().count() > 300 {
        return Err(AppError::field("note", "说明请控制在 300 字以内"));
    }
    write_tx(conn, |conn| {
        let (t, from, to) = load_for(conn, user, id)?;
        if t.version != version {
            return Err(AppError::Conflict(workflow::CONFLICT.into()));
        }
        let allowed = if action == Action::Cancel {
            FLOW.allows(action, t.state)
                && (t.member_id == user.id || t.started_by == Some(user.id))
        } else {
            may_act(user, action, t.state, &from, &to)
        };
        if !allowed {
            return Err(AppError::Forbidden);
        }
        let member = crate::members::model::find(conn, t.member_id)?.ok_or(AppError::NotFound)?;
        let by = By {
            actor,
            label: &actor.name,
            anonymous: false,
        };
        let audit = match action {
            Action::Release => AuditAction::TransferRelease,
            Action::Accept => AuditAction::TransferAccept,
            Action::Refuse => AuditAction::TransferRefuse,
            Action::Cancel => AuditAction::TransferCancel,
        };
        let title = match action {
            Action::Release => format!("{}的转会已获转出单位同意，待{}接收", member.name, to.name),
            Action::Accept => format!("{}已转入{}", member.name, to.name),
            _ => format!("{}的转会未完成：{}", member.name, action.label()),
        };
        let mut rec = Record::new(audit);
        rec.body = &note;
        rec.detail = &member.employee_no;
        rec.notify = vec![(member.id, title, "/me/membership".to_string())];
        let next = workflow::transition(conn, &t, action, None, &by, &rec)?;
        after_step(conn, actor, &t, &member, (&from, &to), next)?;
        Ok(next)
    })
}

/// What a step sets off: the receiving side told, the member moved and their cases handed
/// over, or their status back.
fn after_step(
    conn: &mut DbConnection,
    actor: &Actor,
    t: &Transfer,
    member: &crate::members::model::Member,
    (from, to): (&OrgUnit, &OrgUnit),
    next: State,
) -> AppResult<()> {
    {
        match next {
            State::Released => {
                for p in side_people(conn, from, to, to)? {
                    crate::notifications::notify(
                        conn,
                        p,
                        &format!("转会待接收：{}（来自{}）", member.name, from.name),
                        &format!("/admin/membership/transfers/{}", t.id),
                        actor.now,
                        Out::Full(Kind::Approval),
                    )?;
                }
            }
            State::Accepted => {
                if to.disabled {
                    return Err(AppError::Validation(
                        "转入单位已停用，请不同意本次转会后重新发起".into(),
                    ));
                }
                model::move_member(conn, member.id, to.id, actor.now)?;
                super::set_status(
                    conn,
                    actor,
                    member.id,
                    Status::Member,
                    to.id,
                    &format!("由{}转入", from.name),
                )?;
                hand_over_cases(conn, actor, member.id, to)?;
            }
            State::Refused | State::Cancelled => {
                super::set_status(
                    conn,
                    actor,
                    member.id,
                    Status::Member,
                    from.id,
                    &format!("转会{}", next.label()),
                )?;
            }
            State::Requested => {}
        }
        Ok(())
    }
}

/// Hand the member's open named grievances and live benefit requests to `to`'s cadres: each
/// case is touched through the one transition path (version, timeline line, audit row).
fn hand_over_cases(
    conn: &mut DbConnection,
    actor: &Actor,
    member_id: i32,
    to: &OrgUnit,
) -> AppResult<()> {
    let body = format!("会员已转会至{}，本事项移交{}办理。", to.name, to.name);
    let cadres = scope::responsible_cadres(conn, to)?;
    let by = By {
        actor,
        label: &actor.name,
        anonymous: false,
    };
    for g in crate::grievances::model::for_member(conn, member_id)? {
        if g.anonymous || !g.state.is_open() {
            continue;
        }
        let rec = Record {
            kind: "handover",
            body: &body,
            notify: cadres
                .iter()
                .map(|c| {
                    (
                        *c,
                        format!("转会移交的申诉：{}", g.title),
                        format!("/admin/grievances/{}", g.public_ref),
                    )
                })
                .collect(),
            ..Record::new(AuditAction::CaseHandover)
        };
        workflow::touch(conn, &g, &by, &rec)?;
        crate::grievances::model::set_fields(
            conn,
            g.id,
            &crate::grievances::model::GrievanceChanges {
                unit_id: Some(to.id),
                handler_id: Some(None),
                updated_at: Some(actor.now),
                ..Default::default()
            },
        )?;
    }
    for r in crate::benefits::model::requests_of(conn, member_id)? {
        if !crate::benefits::model::LIVE_STATES.contains(&r.state) {
            continue;
        }
        let rec = Record {
            kind: "handover",
            body: &body,
            notify: cadres
                .iter()
                .map(|c| {
                    (
                        *c,
                        "转会移交的普惠申请".to_string(),
                        format!("/admin/benefits/{}", r.id),
                    )
                })
                .collect(),
            ..Record::new(AuditAction::CaseHandover)
        };
        workflow::touch(conn, &r, &by, &rec)?;
        crate::benefits::model::set_fields(
            conn,
            r.id,
            &crate::benefits::model::RequestChanges {
                unit_id: Some(to.id),
                updated_at: Some(actor.now),
                ..Default::default()
            },
        )?;
    }
    Ok(())
}
