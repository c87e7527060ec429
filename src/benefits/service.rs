//! The benefit rules: what a member may apply for and why not, applying, the approval chain
//! (each step by the right role, never by the applicant, re-checking eligibility, frequency and
//! budget inside the approving transaction), returns and resubmission, payout.

use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;

use super::actions;
use super::model::{
    self, Action, BenefitItem, BenefitRequest, NewBenefitRequest, State, CATEGORIES,
};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::ids::{MemberId, RequestId};
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::notifications::notify;
use crate::org::{self, Role};
use crate::outbox::{Kind, Out};
use crate::text::to_halfwidth;
use crate::workflow::{self, By, Flow, Transition};

pub static FLOW: Flow<State, Action> = Flow {
    table: "benefit_requests",
    transitions: &[
        Transition {
            action: Action::Advance,
            from: &[State::Submitted],
            to: State::Submitted,
        },
        Transition {
            action: Action::Approve,
            from: &[State::Submitted],
            to: State::Approved,
        },
        Transition {
            action: Action::Reject,
            from: &[State::Submitted],
            to: State::Rejected,
        },
        Transition {
            action: Action::Return,
            from: &[State::Submitted],
            to: State::Returned,
        },
        Transition {
            action: Action::Resubmit,
            from: &[State::Returned],
            to: State::Submitted,
        },
        Transition {
            action: Action::Withdraw,
            from: &[State::Submitted, State::Returned],
            to: State::Withdrawn,
        },
        Transition {
            action: Action::Pay,
            from: &[State::Approved],
            to: State::Paid,
        },
    ],
};

pub fn role_label(code: &str) -> &'static str {
    Role::parse(code).map_or("审批人", |r| r.label())
}

/// Parse an amount as people type it ("1000", "１０００", "¥1,000.00", "500元") into fen.
/// Refuses zero, negatives, more than two decimals and anything else unclear.
pub fn parse_amount(raw: &str) -> Result<i64, &'static str> {
    let s: String = to_halfwidth(raw)
        .chars()
        .filter(|c| !matches!(c, ' ' | ',' | '¥' | '￥' | '元'))
        .collect();
    let s = s
        .strip_prefix("RMB")
        .or_else(|| s.strip_prefix("CNY"))
        .unwrap_or(&s);
    if s.is_empty() {
        return Err("请填写金额");
    }
    if s.starts_with('-') {
        return Err("金额必须大于 0");
    }
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return Err("金额格式不正确，请填写如 500 或 500.00");
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err("金额格式不正确，请填写如 500 或 500.00");
    }
    if frac.len() > 2 {
        return Err("金额最多精确到分（两位小数）");
    }
    if int.len() > 9 {
        return Err("金额过大");
    }
    let yuan: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| "金额格式不正确")?
    };
    let fen: i64 = format!("{frac:0<2}")
        .parse()
        .map_err(|_| "金额格式不正确")?;
    let total = yuan
        .checked_mul(100)
        .and_then(|y| y.checked_add(fen))
        .ok_or("金额过大")?;
    if total <= 0 {
        return Err("金额必须大于 0");
    }
    Ok(total)
}

/// Why the member cannot apply for the item now, if they cannot.
pub fn unavailable_reason(
    conn: &mut DbConnection,
    user: &User,
    item: &BenefitItem,
    now: NaiveDateTime,
) -> AppResult<Option<String>> {
    if !item.active {
        return Ok(Some("暂停受理".into()));
    }
    if item.active_from.is_some_and(|f| now < f) || item.active_until.is_some_and(|u| now > u) {
        return Ok(Some("不在受理期内".into()));
    }
    if let Some(u) = item.unit_id {
        if let Some(unit) = org::model::find(conn, u)? {
            if !user.unit_path.starts_with(&unit.path) {
                return Ok(Some(format!("仅限{}会员申请", unit.name)));
            }
        }
    }
    if item.frequency == model::Frequency::Yearly
        && model::live_count(conn, user.id, item.id, now.year(), None)? > 0
    {
        return Ok(Some("今年已申请或已领取（每人每年一次）".into()));
    }
    Ok(None)
}

/// What the apply form posts.
#[derive(Debug, Default, Clone)]
pub struct ApplyForm {
    pub amount: String,
    pub event: String,
    /// One value per required field of the item, in order.
    pub values: Vec<String>,
    pub submit_token: String,
}

pub use crate::attachments::TypedFile as File;

/// An application as checked: the amount in fen, the event it is for, and the details
/// (one `label\tvalue` line per field).
struct Checked {
    amount: i64,
    event: String,
    details: String,
}

/// Every check of an application form, each failure a message by its field.
fn check_application(
    conn: &mut DbConnection,
    user: &User,
    item: &BenefitItem,
    form: &ApplyForm,
    file_count: usize,
    now: NaiveDateTime,
) -> AppResult<Checked> {
    let mut errors = FieldErrors::default();
    if let Some(why) = unavailable_reason(conn, user, item, now)? {
        return Err(AppError::field("item", format!("不能申请：{why}")));
    }
    let amount = if item.is_fixed() {
        item.amount_fen
    } else {
        match parse_amount(&form.amount) {
            Ok(a) if a > item.amount_fen => {
                errors.add(
                    "amount",
                    format!("金额不能超过 {} 元", model::yuan(item.amount_fen)),
                );
                0
            }
            Ok(a) => a,
            Err(e) => {
                errors.add("amount", e);
                0
            }
        }
    };
    let event = form.event.trim().to_string();
    if item.per_event() {
        if event.is_empty() {
            errors.add(
                "event",
                "请填写事由（如病种、事件），同一事由每年只能申请一次",
            );
        } else if event.chars().count() > 60 {
            errors.add("event", "事由不能超过 60 字");
        } else if model::live_count(conn, user.id, item.id, now.year(), Some(&event))? > 0 {
            errors.add(
                "event",
                format!("“{event}”今年已申请过，同一事由每年只能申请一次"),
            );
        }
    }
    let mut details = String::new();
    for (i, label) in item.fields().iter().enumerate() {
        let v = form
            .values
            .get(i)
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        if v.is_empty() {
            errors.add("fields", format!("请填写“{label}”"));
        } else if v.chars().count() > 500 {
            errors.add("fields", format!("“{label}”不能超过 500 字"));
        }
        details.push_str(&format!(
            "{label}\t{}\n",
            v.replace('\t', " ").replace('\n', "\\n")
        ));
    }
    let needed = item.attachments();
    if file_count < needed.len() {
        errors.add("files", format!("请上传所需材料：{}", needed.join("、")));
    }
    if !errors.is_empty() {
        return Err(AppError::Fields(errors));
    }
    Ok(Checked {
        amount,
        event,
        details,
    })
}

/// Apply for an item. Returns the request id, or field errors for the form.
pub fn apply(
    conn: &mut DbConnection,
    user: &User,
    item_id: i32,
    form: &ApplyForm,
    files: &[File],
    now: NaiveDateTime,
) -> AppResult<i32> {
    write_tx(conn, |conn| {
        if let Some(id) = model::request_by_token(conn, &form.submit_token)? {
            return Ok(id);
        }
        let item = model::item(conn, item_id)?.ok_or(AppError::NotFound)?;
        let Checked {
            amount,
            event,
            details,
        } = check_application(conn, user, &item, form, files.len(), now)?;
        let chain = item.chain_for(amount).join(",");
        let id = model::insert_request(
            conn,
            &NewBenefitRequest {
                item_id: item.id,
                member_id: user.id,
                unit_id: user.unit_id,
                year: now.year(),
                amount_fen: amount,
                event_key: &event,
                details: &details,
                steps: &chain,
                step: 0,
                state: State::Submitted,
                version: 1,
                submit_token: &form.submit_token,
                created_at: now,
                updated_at: now,
            },
        )?;
        for (name, mime, data) in files {
            crate::attachments::insert(conn, ("benefit", id), name, mime, data, now)?;
        }
        model::insert_event(
            conn,
            id,
            "state",
            Some(State::Submitted),
            (Some(user.id), &user.name),
            &format!("申请 {} 元", model::yuan(amount)),
            now,
        )?;
        audit::record(
            conn,
            &Actor::user(user, None, now),
            Some(user.unit_id),
            crate::audit::AuditAction::BenefitApply,
            ("benefit_request", Some(id)),
            &item.name,
        )?;
        let req = model::request(conn, id)?.ok_or(AppError::NotFound)?;
        for (m, title, link) in actions::step_recipients(conn, &req, &item, &[])? {
            // A benefit's name can say too much (illness, hardship): the kind's fixed text.
            notify(conn, m, &title, &link, now, Out::Generic(Kind::Approval))?;
        }
        Ok(id)
    })
}

/// Whether `user` may decide the current step: holds its role (a chair may take a cadre step)
/// at the applicant's unit or above, is not the applicant, and has not decided an earlier step.
/// `may_decide` with the request's approvers so far read from the database.
pub fn may_decide_now(
    conn: &mut DbConnection,
    user: &User,
    req: &BenefitRequest,
    unit_path: &str,
) -> AppResult<Result<(), &'static str>> {
    let approvers = model::approver_ids(conn, RequestId(req.id))?;
    Ok(may_decide(user, req, &approvers, unit_path))
}

/// `approvers` are those who approved earlier steps (`model::approver_ids`).
pub fn may_decide(
    user: &User,
    req: &BenefitRequest,
    approvers: &[MemberId],
    unit_path: &str,
) -> Result<(), &'static str> {
    let Some(role) = req.current_role() else {
        return Err("该申请当前不在审批中");
    };
    if req.member_id == user.id {
        return Err("不能审批自己的申请");
    }
    if approvers.contains(&MemberId(user.id)) {
        return Err("您已审批过前一步，需由其他审批人审批");
    }
    let ok = user.roles.iter().any(|g| {
        unit_path.starts_with(&g.unit_path)
            && (g.role == role || (role == Role::Cadre && g.role == Role::Chair))
    });
    if ok {
        Ok(())
    } else {
        Err("这一步需由申请人所在单位或上级单位的相应负责人审批")
    }
}

/// Who sees a request in the admin area: approvers in scope (cadres, chairs) and finance.
pub fn may_view(user: &User, unit_path: &str) -> bool {
    org::scope::holds_over(user, unit_path, Role::ALL)
}

/// Load a request for staff, with its item and the applicant's unit; NotFound outside scope.
pub fn load_for_staff(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
) -> AppResult<(BenefitRequest, BenefitItem, org::OrgUnit)> {
    let req = model::request(conn, id)?.ok_or(AppError::NotFound)?;
    let unit = org::model::find(conn, req.unit_id)?.ok_or(AppError::NotFound)?;
    if !may_view(user, &unit.path) {
        return Err(AppError::NotFound);
    }
    let item = model::item(conn, req.item_id)?.ok_or(AppError::NotFound)?;
    Ok((req, item, unit))
}

/// A member's own request, else NotFound.
pub fn load_for_member(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
) -> AppResult<(BenefitRequest, BenefitItem)> {
    let req = model::request(conn, id)?
        .filter(|r| r.member_id == user.id)
        .ok_or(AppError::NotFound)?;
    let item = model::item(conn, req.item_id)?.ok_or(AppError::NotFound)?;
    Ok((req, item))
}

/// Whether the viewer may see health and bank details: someone who can hold a step of the
/// chain at the applicant's unit, or finance there. Every such view is audited by the caller.
pub fn may_see_details(user: &User, req: &BenefitRequest, unit_path: &str) -> bool {
    if req.member_id == user.id {
        return true;
    }
    let chain = req.chain();
    user.roles.iter().any(|g| {
        unit_path.starts_with(&g.unit_path)
            && (g.role == Role::Finance
                || g.role == Role::Chair
                || chain.iter().any(|r| r == g.role.as_str()))
    })
}

pub fn record_details_view(
    conn: &mut DbConnection,
    actor: &Actor,
    req: &BenefitRequest,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        audit::record(
            conn,
            actor,
            Some(req.unit_id),
            crate::audit::AuditAction::BenefitViewDetails,
            ("benefit_request", Some(req.id)),
            "",
        )
    })
}

#[derive(Debug, Clone)]
pub enum Decision {
    Approve,
    Reject { reason: String },
    Return { note: String },
}

/// The budget check of the last approval: the applicant's unit's budget for the item's category
/// and year must hold this request on top of everything approved or paid from it. Locks the
/// budget row first (an UPDATE holds it to commit on PostgreSQL; SQLite's write lock is already
/// ours), so two approvals racing for the last yuan cannot both pass. Returns the budget's id.
pub(super) fn reserve_budget(
    conn: &mut DbConnection,
    req: &BenefitRequest,
    item: &BenefitItem,
    unit_path: &str,
    now: NaiveDateTime,
) -> AppResult<i32> {
    let category = model::category_label(&item.category);
    let budget =
        model::budget_for(conn, unit_path, req.year, &item.category)?.ok_or_else(|| {
            AppError::Validation(format!(
                "{} 年没有可用的{category}类预算，请先设置预算",
                req.year
            ))
        })?;
    diesel::update(crate::db::schema::budgets::table.find(budget.id))
        .set(crate::db::schema::budgets::updated_at.eq(now))
        .execute(conn)?;
    let (committed, _) = model::budget_use(conn, budget.id)?;
    if committed.saturating_add(req.amount_fen) > budget.planned_fen {
        return Err(AppError::Validation(format!(
            "预算不足：{}年{category}类预算剩余 {} 元，本申请 {} 元，不能批准",
            req.year,
            model::yuan(budget.planned_fen.saturating_sub(committed)),
            req.amount_yuan()
        )));
    }
    Ok(budget.id)
}

/// Decide the current step of request `id` as seen at `version`. Eligibility, frequency and the
/// budget are checked again here, inside the transaction; the state moves by a guarded update,
/// so of two concurrent decisions one wins and the other gets Conflict.
pub fn decide(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    version: i32,
    decision: Decision,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let (req, item, unit) = load_for_staff(conn, user, id)?;
        if req.version != version {
            return Err(AppError::Conflict(workflow::CONFLICT.into()));
        }
        may_decide_now(conn, user, &req, &unit.path)?
            .map_err(|m| AppError::Validation(m.into()))?;
        let a = actions::Approver {
            req: &req,
            item: &item,
            user,
            by: By {
                actor,
                label: &user.name,
                anonymous: false,
            },
        };
        match &decision {
            Decision::Approve => {
                let applicant_path = still_eligible(conn, &req, &item)?;
                actions::approve(conn, &a, &applicant_path)
            }
            Decision::Reject { reason } => actions::reject(conn, &a, reason),
            Decision::Return { note } => actions::return_for_more(conn, &a, note),
        }
    })
}

/// Eligibility and frequency may have changed since the member applied: checked again at
/// each approval. Returns the applicant's unit path (their budget's owner).
fn still_eligible(
    conn: &mut DbConnection,
    req: &BenefitRequest,
    item: &BenefitItem,
) -> AppResult<String> {
    let applicant = crate::auth::user::load_user(conn, req.member_id, "")?
        .ok_or_else(|| AppError::Validation("申请人账号已停用，不能批准".into()))?;
    if let Some(u) = item.unit_id {
        let eligible =
            org::model::find(conn, u)?.is_some_and(|eu| applicant.unit_path.starts_with(&eu.path));
        if !eligible {
            return Err(AppError::Validation(
                "申请人已不在该项目的适用范围内".into(),
            ));
        }
    }
    let event = item.per_event().then_some(req.event_key.as_str());
    if item.frequency != model::Frequency::Unlimited
        && model::live_count(conn, req.member_id, item.id, req.year, event)? > 1
    {
        return Err(AppError::Validation(
            "该会员今年已有同类申请，超出次数限制".into(),
        ));
    }
    Ok(applicant.unit_path)
}

/// The member withdraws before the first decision, or while returned.
pub fn withdraw(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    now: NaiveDateTime,
) -> AppResult<()> {
    let actor = Actor::user(user, None, now);
    write_tx(conn, |conn| {
        let (req, _) = load_for_member(conn, user, id)?;
        actions::withdraw(conn, &req, &member_by(&actor))
    })
}

/// The applicant acting on their own request.
fn member_by(actor: &Actor) -> By<'_> {
    By {
        actor,
        label: &actor.name,
        anonymous: false,
    }
}

/// The member supplies more (a note and files) and sends a returned request back into the chain.
pub fn resubmit(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    note: &str,
    files: &[File],
    now: NaiveDateTime,
) -> AppResult<()> {
    let actor = Actor::user(user, None, now);
    write_tx(conn, |conn| {
        let (req, item) = load_for_member(conn, user, id)?;
        actions::resubmit(conn, &req, &item, &member_by(&actor), note, files)
    })
}

/// Whether the user is finance for the request's unit.
pub fn is_finance_for(user: &User, unit_path: &str) -> bool {
    !user.is_admin && org::scope::holds_over(user, unit_path, &[Role::Finance])
}

/// Finance marks approved requests paid, with a payment reference. Paid is final. Returns how
/// many were marked; requests no longer approved (someone else paid them) are skipped.
pub fn mark_paid(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    ids: &[i32],
    reference: &str,
) -> AppResult<usize> {
    let reference = reference.trim();
    if reference.is_empty() || reference.chars().count() > 60 {
        return Err(AppError::Validation("请填写付款凭证号（60 字以内）".into()));
    }
    write_tx(conn, |conn| {
        let mut done = 0usize;
        for &id in ids {
            let (req, item, unit) = load_for_staff(conn, user, id)?;
            if !is_finance_for(user, &unit.path) {
                return Err(AppError::Forbidden);
            }
            // Segregation of duties: nobody marks their own request paid.
            if req.member_id == user.id {
                return Err(AppError::Validation(
                    "不能为自己的申请登记付款，请由其他财务人员办理".into(),
                ));
            }
            if req.state != State::Approved {
                continue;
            }
            let by = By {
                actor,
                label: &user.name,
                anonymous: false,
            };
            actions::pay(conn, &req, &item, &by, reference)?;
            done = done.saturating_add(1);
        }
        Ok(done)
    })
}

/// Approved but unpaid requests in the finance user's scope, with names for the payout list.
pub fn payout_rows(conn: &mut DbConnection, user: &User) -> AppResult<Vec<PayoutRow>> {
    let units = org::scope::units_for_roles(conn, user, &[Role::Finance])?;
    let ids: Vec<i32> = units.iter().map(|u| u.id).collect();
    let reqs = model::in_units(conn, Some(&ids), Some(State::Approved), (5000, 0))?;
    let items = model::items(conn)?;
    let member_ids: Vec<i32> = reqs.iter().map(|r| r.member_id).collect();
    let names = crate::members::model::names_of(conn, &member_ids)?;
    let mut rows = Vec::new();
    for r in reqs {
        let (name, employee_no) = names.get(&r.member_id).cloned().ok_or(AppError::NotFound)?;
        rows.push(PayoutRow {
            item: items
                .iter()
                .find(|i| i.id == r.item_id)
                .map(|i| i.name.clone())
                .unwrap_or_default(),
            unit: units
                .iter()
                .find(|u| u.id == r.unit_id)
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            name,
            employee_no,
            req: r,
        });
    }
    rows.sort_by_key(|r| r.req.id);
    Ok(rows)
}

pub struct PayoutRow {
    pub req: BenefitRequest,
    pub name: String,
    pub employee_no: String,
    pub unit: String,
    pub item: String,
}

/// The payout list as an XLSX workbook for finance, with a total row.
pub fn payout_xlsx(rows: &[PayoutRow]) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("待发放").map_err(err)?;
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("0.00");
    for (c, h) in [
        "编号",
        "姓名",
        "工号",
        "单位",
        "项目",
        "金额（元）",
        "批准日期",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(err)?;
    }
    let mut total = 0i64;
    for (i, r) in rows.iter().enumerate() {
        let row = (i as u32).saturating_add(1);
        ws.write_number(row, 0, f64::from(r.req.id)).map_err(err)?;
        ws.write_string(row, 1, &r.name).map_err(err)?;
        ws.write_string(row, 2, &r.employee_no).map_err(err)?;
        ws.write_string(row, 3, &r.unit).map_err(err)?;
        ws.write_string(row, 4, &r.item).map_err(err)?;
        ws.write_number_with_format(row, 5, r.req.amount_fen as f64 / 100.0, &money)
            .map_err(err)?;
        let approved = r
            .req
            .approved_at
            .map(|a| crate::time::beijing(&a, "%Y-%m-%d"))
            .unwrap_or_default();
        ws.write_string(row, 6, &approved).map_err(err)?;
        total = total.saturating_add(r.req.amount_fen);
    }
    let last = (rows.len() as u32).saturating_add(1);
    ws.write_string_with_format(last, 4, "合计", &bold)
        .map_err(err)?;
    ws.write_number_with_format(last, 5, total as f64 / 100.0, &money)
        .map_err(err)?;
    ws.set_column_width(4, 16).map_err(err)?;
    ws.set_column_width(6, 12).map_err(err)?;
    wb.save_to_buffer().map_err(err)
}

/// Budget lines: (budget, unit name, committed, paid).
pub fn budget_lines(
    conn: &mut DbConnection,
    user: &User,
    year: i32,
) -> AppResult<Vec<(model::Budget, String, i64, i64)>> {
    let units = org::scope::managed_units(conn, user)?;
    let ids: Option<Vec<i32>> = (!user.is_admin).then(|| units.iter().map(|u| u.id).collect());
    let mut out = Vec::new();
    for b in model::budgets_in(conn, ids.as_deref(), year)? {
        let (committed, paid) = model::budget_use(conn, b.id)?;
        let name = units
            .iter()
            .find(|u| u.id == b.unit_id)
            .map(|u| u.name.clone())
            .unwrap_or_default();
        out.push((b, name, committed, paid));
    }
    Ok(out)
}

/// Add an item to the catalogue (admins), with its active period, audited.
pub fn create_item(conn: &mut DbConnection, actor: &Actor, input: &ItemInput) -> AppResult<i32> {
    write_tx(conn, |conn| {
        let item = model::NewBenefitItem {
            name: &input.name,
            category: input.category,
            description: &input.description,
            amount_mode: input.amount_mode,
            amount_fen: input.amount_fen,
            frequency: input.frequency,
            required_fields: &input.required_fields,
            required_attachments: &input.required_attachments,
            unit_id: input.unit_id,
            steps: input.steps,
            extra_step_above_fen: input.extra_above_fen,
            extra_step_role: input.extra_above_fen.map(|_| "chair"),
            sensitive: input.sensitive,
            active: true,
            created_at: actor.now,
        };
        let id = model::insert_item(conn, &item)?;
        model::set_item_period(conn, id, input.active_from, input.active_until)?;
        audit::record(
            conn,
            actor,
            None,
            crate::audit::AuditAction::BenefitItemCreate,
            ("benefit_item", Some(id)),
            &input.name,
        )?;
        Ok(id)
    })
}

/// The admin's new-item form as typed.
#[derive(serde::Deserialize, Default, Clone)]
pub struct ItemForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub amount_mode: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub frequency: String,
    #[serde(default)]
    pub fields: String,
    #[serde(default)]
    pub attachments: String,
    #[serde(default)]
    pub steps: String,
    #[serde(default)]
    pub extra_above: String,
    #[serde(default)]
    pub sensitive: String,
    #[serde(default)]
    pub unit_id: String,
    #[serde(default)]
    pub active_from: String,
    #[serde(default)]
    pub active_until: String,
}

/// A new catalogue item as checked.
pub struct ItemInput {
    pub name: String,
    pub category: &'static str,
    pub description: String,
    pub amount_mode: model::AmountMode,
    pub amount_fen: i64,
    pub frequency: model::Frequency,
    pub required_fields: String,
    pub required_attachments: String,
    pub unit_id: Option<i32>,
    pub steps: &'static str,
    pub extra_above_fen: Option<i64>,
    pub sensitive: bool,
    pub active_from: Option<NaiveDateTime>,
    pub active_until: Option<NaiveDateTime>,
}

/// The approval chains an item may have.
const CHAINS: [&str; 3] = ["cadre,chair", "cadre", "chair"];

impl ItemForm {
    /// The checked item, or a message for each field that cannot be taken.
    pub fn parse(&self) -> Result<ItemInput, FieldErrors> {
        let mut e = FieldErrors::default();
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 30 {
            e.add("name", "请填写项目名称（30 字以内）");
        }
        let category = CATEGORIES
            .iter()
            .map(|(c, _)| *c)
            .find(|c| *c == self.category);
        if category.is_none() {
            e.add("category", "请选择类别");
        }
        let amount = parse_amount(&self.amount)
            .map_err(|m| e.add("amount", m))
            .ok();
        let extra = if self.extra_above.trim().is_empty() {
            None
        } else {
            parse_amount(&self.extra_above)
                .map_err(|m| e.add("extra_above", m))
                .ok()
        };
        let steps = CHAINS.iter().copied().find(|c| *c == self.steps);
        if steps.is_none() {
            e.add("steps", "请选择审批流程");
        }
        let from = form_date(&self.active_from, false)
            .map_err(|m| e.add("active_from", m.message("请填写日期，如 2026-12-01")))
            .ok();
        let until = form_date(&self.active_until, true)
            .map_err(|m| e.add("active_until", m.message("请填写日期，如 2026-12-31")))
            .ok();
        if self.description.chars().count() > 2000 {
            e.add("description", "说明请控制在 2000 字以内");
        }
        match (category, amount, steps, from, until) {
            (
                Some(category),
                Some(amount_fen),
                Some(steps),
                Some(active_from),
                Some(active_until),
            ) if e.is_empty() => Ok(ItemInput {
                name,
                category,
                description: self.description.trim().to_string(),
                amount_mode: model::AmountMode::parse(&self.amount_mode)
                    .unwrap_or(model::AmountMode::Max),
                amount_fen,
                frequency: model::Frequency::parse(&self.frequency)
                    .unwrap_or(model::Frequency::Yearly),
                required_fields: self.fields.trim().to_string(),
                required_attachments: self.attachments.trim().to_string(),
                unit_id: self.unit_id.parse::<i32>().ok(),
                steps,
                extra_above_fen: extra,
                sensitive: self.sensitive == "1",
                active_from,
                active_until,
            }),
            _ => Err(e),
        }
    }
}

/// A date typed in a form ("2026-12-31"): the start of that day in Beijing (or its last
/// second for an end date), stored as UTC.
fn form_date(s: &str, end_of_day: bool) -> Result<Option<NaiveDateTime>, crate::time::InputError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    let d = crate::time::parse_date_input(s)?;
    let start = crate::time::day_start(d);
    Ok(Some(if end_of_day {
        crate::time::minus(
            crate::time::day_start(d.succ_opt().unwrap_or(d)),
            chrono::Duration::seconds(1),
        )
    } else {
        start
    }))
}

/// Pause or resume an item (admins), audited.
pub fn toggle_item(conn: &mut DbConnection, actor: &Actor, id: i32) -> AppResult<()> {
    write_tx(conn, |conn| {
        let item = model::item(conn, id)?.ok_or(AppError::NotFound)?;
        model::set_item_active(conn, id, !item.active)?;
        let what = if item.active { "暂停" } else { "启用" };
        audit::record(
            conn,
            actor,
            None,
            crate::audit::AuditAction::BenefitItemToggle,
            ("benefit_item", Some(id)),
            what,
        )
    })
}

/// Set this year's budget of a unit and category: admins anywhere, chairs in their subtree.
pub fn set_budget(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    unit_id: i32,
    category: &str,
    amount_fen: i64,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let unit = org::model::find(conn, unit_id)?.ok_or(AppError::NotFound)?;
        if !org::scope::may_grant_roles(user, &unit.path) {
            return Err(AppError::Forbidden);
        }
        model::set_budget(
            conn,
            unit_id,
            actor.now.year(),
            category,
            amount_fen,
            actor.now,
        )?;
        let detail = format!(
            "{} {} {} 元",
            unit.name,
            model::category_label(category),
            model::yuan(amount_fen)
        );
        audit::record(
            conn,
            actor,
            Some(unit_id),
            crate::audit::AuditAction::BenefitBudget,
            ("budget", None),
            &detail,
        )
    })
}

/// A request in a list, with the names it shows.
pub struct Row {
    pub req: BenefitRequest,
    pub item: String,
    pub member: String,
    pub unit: String,
    pub mine: bool,
}

/// Requests in the user's reach, newest first, one page of 50; `mine` marks those awaiting
/// the user's decision.
pub fn rows_for(
    conn: &mut DbConnection,
    user: &User,
    state: Option<State>,
    page: Option<i64>,
) -> AppResult<(Vec<Row>, crate::forms::Pager)> {
    let units = org::scope::units_for_roles(conn, user, Role::ALL)?;
    let ids: Vec<i32> = units.iter().map(|u| u.id).collect();
    let total = model::count_in_units(conn, Some(&ids), state)?;
    let pager = crate::forms::Pager::new(page, 50, total);
    let reqs = model::in_units(conn, Some(&ids), state, (pager.per_page, pager.offset()))?;
    Ok((to_rows(conn, user, &units, reqs)?, pager))
}

/// Requests whose current step is the user's to decide, newest first (the inbox and the top of
/// the benefits list). Chosen in SQL (the step's role held over the unit, not their own, no
/// earlier step of theirs) before the cap, so requests waiting for others never push these
/// out; `may_decide` still confirms each.
pub fn awaiting_rows(conn: &mut DbConnection, user: &User) -> AppResult<Vec<Row>> {
    let chains = model::submitted_chains(conn)?;
    let mut slots = Vec::new();
    for role in Role::ALL {
        // A chair also takes the cadre steps.
        let paths: Vec<String> = user
            .roles
            .iter()
            .filter(|g| g.role == *role || (*role == Role::Cadre && g.role == Role::Chair))
            .map(|g| g.unit_path.clone())
            .collect();
        let mut steps = Vec::new();
        for chain in &chains {
            // The same reading of the chain as `BenefitRequest::chain`.
            steps.extend(
                chain
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .enumerate()
                    .filter(|(_, code)| Role::parse(code) == Some(*role))
                    .filter_map(|(i, _)| i32::try_from(i).ok())
                    .map(|i| (chain.clone(), i)),
            );
        }
        if paths.is_empty() || steps.is_empty() {
            continue;
        }
        let units = org::model::under_paths(conn, &paths)?
            .into_iter()
            .map(|u| u.id)
            .collect();
        slots.push(model::Slot { units, steps });
    }
    let reqs = model::awaiting(conn, &slots, user.id, 500)?;
    let units = org::scope::units_for_roles(conn, user, Role::ALL)?;
    Ok(to_rows(conn, user, &units, reqs)?
        .into_iter()
        .filter(|r| r.mine)
        .collect())
}

/// List rows for `reqs` (all in `units`), with names and whether each awaits the user.
fn to_rows(
    conn: &mut DbConnection,
    user: &User,
    units: &[org::OrgUnit],
    reqs: Vec<BenefitRequest>,
) -> AppResult<Vec<Row>> {
    let items = model::items(conn)?;
    let req_ids: Vec<i32> = reqs.iter().map(|r| r.id).collect();
    let mut approvals: std::collections::HashMap<i32, Vec<MemberId>> =
        std::collections::HashMap::new();
    for (r, m) in model::approvers_of(conn, &req_ids)? {
        approvals.entry(r).or_default().push(m);
    }
    let member_ids: Vec<i32> = reqs.iter().map(|r| r.member_id).collect();
    let names = crate::members::model::names_of(conn, &member_ids)?;
    let units: std::collections::HashMap<i32, &org::OrgUnit> =
        units.iter().map(|u| (u.id, u)).collect();
    let mut out = Vec::with_capacity(reqs.len());
    for req in reqs {
        let approvers = approvals.remove(&req.id).unwrap_or_default();
        let unit = units.get(&req.unit_id).copied();
        let member = names
            .get(&req.member_id)
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        out.push(Row {
            mine: unit.is_some_and(|u| may_decide(user, &req, &approvers, &u.path).is_ok()),
            item: items
                .iter()
                .find(|i| i.id == req.item_id)
                .map(|i| i.name.clone())
                .unwrap_or_default(),
            unit: unit.map(|u| u.name.clone()).unwrap_or_default(),
            member,
            req,
        });
    }
    Ok(out)
}
