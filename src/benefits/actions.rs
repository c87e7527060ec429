//! Every step on a benefit request, one small function each: an approver's (approve one step,
//! reject, return for more material), the applicant's (withdraw, resubmit) and finance's (pay).
//! Each goes through the one transition path of `src/workflow/`.

use chrono::NaiveDateTime;

use super::model::{self, Action, BenefitItem, BenefitRequest, RequestChanges, State};
use super::service::{reserve_budget, FLOW};
use crate::auth::User;
use crate::db::ids::{MemberId, RequestId, UnitId};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::org::{self, Role};
use crate::outbox::{Kind, Out};
use crate::workflow::{self, By, Case, Line, Record};

impl Case for BenefitRequest {
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
        ("benefit_request", self.id.to_string())
    }
    fn timeline(
        &self,
        conn: &mut DbConnection,
        line: &Line<'_, State>,
        at: NaiveDateTime,
    ) -> AppResult<()> {
        model::insert_event(
            conn,
            self.id,
            line.kind,
            line.to,
            line.author,
            line.body,
            at,
        )
    }
    /// A benefit's name can say too much (illness, hardship): the kind's fixed text.
    fn outward(&self, kind: Kind) -> Out {
        Out::Generic(kind)
    }
}

/// One notification to the applicant.
fn to_applicant(req: &BenefitRequest, title: String) -> Vec<(i32, String, String)> {
    vec![(
        req.member_id,
        title,
        format!("/benefits/requests/{}", req.id),
    )]
}

/// Whoever can take the step `req` waits for (nobody once decided): holders of its role at
/// the applicant's unit or above, except the applicant and those who already approved.
pub(super) fn step_recipients(
    conn: &mut DbConnection,
    req: &BenefitRequest,
    item: &BenefitItem,
    done: &[MemberId],
) -> AppResult<Vec<(i32, String, String)>> {
    let Some(role) = req.current_role() else {
        return Ok(Vec::new());
    };
    let unit = org::model::find(conn, req.unit_id)?.ok_or(AppError::NotFound)?;
    // A chair may take a cadre's step.
    let roles = if role == Role::Cadre {
        vec![Role::Cadre, Role::Chair]
    } else {
        vec![role]
    };
    let mut out = Vec::new();
    for id in unit.path.split('/').filter_map(|s| s.parse::<i32>().ok()) {
        for m in org::model::role_holders(conn, UnitId(id), &roles)? {
            if m.0 != req.member_id && !done.contains(&m) && !out.iter().any(|(o, _, _)| *o == m.0)
            {
                out.push((
                    m.0,
                    format!("待审批：{}（{} 元）", item.name, req.amount_yuan()),
                    format!("/admin/benefits/{}", req.id),
                ));
            }
        }
    }
    Ok(out)
}

/// An approver's decision, on the request as they saw it.
pub(super) struct Approver<'a> {
    pub req: &'a BenefitRequest,
    pub item: &'a BenefitItem,
    pub user: &'a User,
    pub by: By<'a>,
}

impl Approver<'_> {
    fn now(&self) -> NaiveDateTime {
        self.by.actor.now
    }
}

/// Approve this step: the chain moves on (advance), or on the last step the request is
/// approved and its amount reserved from the budget. `applicant_path` is the applicant's
/// unit path now (budgets belong to units).
pub(super) fn approve(
    conn: &mut DbConnection,
    a: &Approver<'_>,
    applicant_path: &str,
) -> AppResult<()> {
    let (req, now) = (a.req, a.now());
    let mut approvers = model::approver_ids(conn, RequestId(req.id))?;
    approvers.push(MemberId(a.user.id));
    let step = req.step.saturating_add(1);
    let detail = format!("第 {step} 步");
    let last = usize::try_from(step).unwrap_or(usize::MAX) >= req.chain().len();
    let mut changes = RequestChanges {
        step: Some(step),
        updated_at: Some(now),
        ..Default::default()
    };
    if last {
        let budget_id = reserve_budget(conn, req, a.item, applicant_path, now)?;
        let rec = Record {
            detail: &detail,
            notify: to_applicant(req, format!("您的{}申请已批准，等待发放", a.item.name)),
            ..Record::new(crate::audit::AuditAction::BenefitApprove)
        };
        workflow::transition(conn, req, Action::Approve, None, &a.by, &rec)?;
        changes.budget_id = Some(Some(budget_id));
        changes.approved_at = Some(now);
    } else {
        let mut next = req.clone();
        next.step = step;
        let rec = Record {
            kind: "approve_step",
            detail: &detail,
            notify: step_recipients(conn, &next, a.item, &approvers)?,
            ..Record::new(crate::audit::AuditAction::BenefitApprove)
        };
        // "advance" keeps the state: only the version guard stops a second approver.
        workflow::transition(conn, req, Action::Advance, None, &a.by, &rec)?;
    }
    model::add_approval(conn, RequestId(req.id), step, MemberId(a.user.id))?;
    model::set_fields(conn, req.id, &changes)
}

pub(super) fn reject(conn: &mut DbConnection, a: &Approver<'_>, reason: &str) -> AppResult<()> {
    let reason = required(reason, "请填写未通过的理由")?;
    let rec = Record {
        body: reason,
        detail: reason,
        notify: to_applicant(a.req, format!("您的{}申请未通过", a.item.name)),
        ..Record::new(crate::audit::AuditAction::BenefitReject)
    };
    workflow::transition(conn, a.req, Action::Reject, None, &a.by, &rec)?;
    let changes = RequestChanges {
        reject_reason: Some(reason),
        updated_at: Some(a.now()),
        ..Default::default()
    };
    model::set_fields(conn, a.req.id, &changes)
}

/// Send the request back for more material; the chain starts again when it returns.
pub(super) fn return_for_more(
    conn: &mut DbConnection,
    a: &Approver<'_>,
    note: &str,
) -> AppResult<()> {
    let note = required(note, "请写明需要补充的材料")?;
    let rec = Record {
        body: note,
        detail: note,
        notify: to_applicant(a.req, format!("您的{}申请需要补充材料", a.item.name)),
        ..Record::new(crate::audit::AuditAction::BenefitReturn)
    };
    workflow::transition(conn, a.req, Action::Return, None, &a.by, &rec)?;
    let changes = RequestChanges {
        step: Some(0),
        updated_at: Some(a.now()),
        ..Default::default()
    };
    model::clear_approvals(conn, RequestId(a.req.id))?;
    model::set_fields(conn, a.req.id, &changes)
}

/// The trimmed text, or `message` when it is empty.
fn required<'t>(text: &'t str, message: &str) -> AppResult<&'t str> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AppError::Validation(message.into()));
    }
    Ok(t)
}

/// The applicant's own page: a step the state no longer allows is told in words, not as a
/// conflict (any other error stays what it is).
fn conflict_as(e: AppError, message: &str) -> AppError {
    match e {
        AppError::Conflict(_) => AppError::Validation(message.into()),
        other => other,
    }
}

/// The applicant withdraws (before the first decision, or while returned).
pub(super) fn withdraw(
    conn: &mut DbConnection,
    req: &BenefitRequest,
    by: &By<'_>,
) -> AppResult<()> {
    if req.is_submitted() && !req.may_withdraw() {
        return Err(AppError::Validation("已有审批人审批，不能撤回".into()));
    }
    let rec = Record {
        ..Record::new(crate::audit::AuditAction::BenefitWithdraw)
    };
    workflow::transition(conn, req, Action::Withdraw, None, by, &rec)
        .map_err(|e| conflict_as(e, "当前状态不能撤回"))?;
    Ok(())
}

/// The applicant answers a return with a note and/or files; the chain starts again.
pub(super) fn resubmit(
    conn: &mut DbConnection,
    req: &BenefitRequest,
    item: &BenefitItem,
    by: &By<'_>,
    note: &str,
    files: &[super::service::File],
) -> AppResult<()> {
    let note = note.trim();
    if note.is_empty() && files.is_empty() {
        return Err(AppError::Validation("请填写补充说明或上传补充材料".into()));
    }
    let mut next = req.clone();
    next.state = State::Submitted;
    next.step = 0;
    let rec = Record {
        body: note,
        notify: step_recipients(conn, &next, item, &[])?,
        ..Record::new(crate::audit::AuditAction::BenefitResubmit)
    };
    workflow::transition(conn, req, Action::Resubmit, None, by, &rec)
        .map_err(|e| conflict_as(e, "只有被退回的申请可以补充材料"))?;
    for (name, mime, data) in files {
        crate::attachments::insert(conn, ("benefit", req.id), name, mime, data, by.at())?;
    }
    Ok(())
}

/// Finance records the payment of an approved request.
pub(super) fn pay(
    conn: &mut DbConnection,
    req: &BenefitRequest,
    item: &BenefitItem,
    by: &By<'_>,
    reference: &str,
) -> AppResult<()> {
    let body = format!("凭证号 {reference}");
    let rec = Record {
        body: &body,
        detail: reference,
        notify: to_applicant(req, format!("您的{}已发放", item.name)),
        ..Record::new(crate::audit::AuditAction::BenefitPay)
    };
    workflow::transition(conn, req, Action::Pay, None, by, &rec)?;
    let now = by.at();
    model::set_fields(
        conn,
        req.id,
        &RequestChanges {
            paid_ref: Some(reference),
            paid_at: Some(now),
            updated_at: Some(now),
            ..Default::default()
        },
    )
}
