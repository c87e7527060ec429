//! 入会: a public application, the branch's review, the union chair's approval. On approval
//! the account is created (an initial password shown once to the approver) and the member's
//! history starts. The applicant follows progress with their phone number and the code shown
//! at application, and answers a return there.

use chrono::NaiveDateTime;
use serde::Deserialize;

use super::model::{self, Application, NewApplication};
use crate::audit::{Actor, AuditAction};
use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::org::{scope, Role};
use crate::outbox::{Kind, Out};
use crate::workflow::{self, By, Case, Flow, Line, Record, Transition};

crate::text_enum! {
    /// Where an application stands. Stored in `membership_applications.state`.
    pub enum State {
        Submitted = ("submitted", "待分会初审"),
        Returned = ("returned", "已退回补充"),
        Reviewed = ("reviewed", "待工会审批"),
        Approved = ("approved", "已批准入会"),
        Rejected = ("rejected", "未通过"),
    }
}

crate::text_enum! {
    /// What the branch cadre, the chair or the applicant does.
    pub enum Action {
        Review = ("review", "初审通过，报工会审批"),
        Return = ("return", "退回补充"),
        Resubmit = ("resubmit", "重新提交"),
        Reject = ("reject", "不予通过"),
        Approve = ("approve", "批准入会"),
    }
}

pub static FLOW: Flow<State, Action> = Flow {
    table: "membership_applications",
    transitions: &[
        Transition {
            action: Action::Review,
            from: &[State::Submitted],
            to: State::Reviewed,
        },
        Transition {
            action: Action::Return,
            from: &[State::Submitted, State::Reviewed],
            to: State::Returned,
        },
        Transition {
            action: Action::Resubmit,
            from: &[State::Returned],
            to: State::Submitted,
        },
        Transition {
            action: Action::Reject,
            // From a return too: an applicant who never answers must not hold the employee
            // number and phone for ever.
            from: &[State::Submitted, State::Reviewed, State::Returned],
            to: State::Rejected,
        },
        Transition {
            action: Action::Approve,
            from: &[State::Reviewed],
            to: State::Approved,
        },
    ],
};

/// Applications one address may send in a day.
pub const PER_ADDRESS_PER_DAY: i64 = 5;

impl Case for Application {
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
        self.unit_id
    }
    fn audit_object(&self) -> (&'static str, String) {
        ("membership_application", self.id.to_string())
    }
    fn timeline(
        &self,
        conn: &mut DbConnection,
        line: &Line<'_, State>,
        at: NaiveDateTime,
    ) -> AppResult<()> {
        model::insert_application_event(
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
    /// The applicant's name and words come from a public form: the fixed text only.
    fn outward(&self, kind: Kind) -> Out {
        Out::Generic(kind)
    }
}

/// The /join form as posted.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct JoinForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub employee_no: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub unit_id: String,
    #[serde(default)]
    pub statement: String,
    #[serde(default)]
    pub consent: String,
}

/// A checked application.
#[derive(Debug, Clone)]
pub struct JoinInput {
    pub name: String,
    pub employee_no: String,
    pub phone: String,
    pub unit_id: i32,
    pub statement: String,
}

const STATEMENT_MAX: usize = 500;

impl JoinForm {
    /// Check the fields (not yet against the database).
    pub fn parse(&self) -> Result<JoinInput, FieldErrors> {
        use crate::members::service::{normalize_employee_no, normalize_name, normalize_phone};
        let mut e = FieldErrors::default();
        let name = normalize_name(&self.name)
            .map_err(|m| e.add("name", m))
            .ok();
        let employee_no = normalize_employee_no(&self.employee_no)
            .map_err(|m| e.add("employee_no", m))
            .ok();
        let phone = match normalize_phone(&self.phone) {
            Ok(Some(p)) => Some(p),
            Ok(None) => {
                e.add("phone", "请填写手机号，用于查询审批进度");
                None
            }
            Err(m) => {
                e.add("phone", m);
                None
            }
        };
        let unit_id = self.unit_id.trim().parse::<i32>().ok();
        if unit_id.is_none() {
            e.add("unit_id", "请选择所在单位");
        }
        let statement = crate::text::clean(&self.statement);
        if statement.chars().count() > STATEMENT_MAX {
            e.add(
                "statement",
                format!("入会申请说明请控制在 {STATEMENT_MAX} 字以内"),
            );
        } else if statement.chars().count() < 10 {
            e.add("statement", "请用一两句话说明入会意愿（至少 10 个字）");
        }
        if self.consent != "1" {
            e.add("consent", "请阅读并同意遵守《中国工会章程》");
        }
        match (name, employee_no, phone, unit_id) {
            (Some(name), Some(employee_no), Some(phone), Some(unit_id)) if e.is_empty() => {
                Ok(JoinInput {
                    name,
                    employee_no,
                    phone,
                    unit_id,
                    statement,
                })
            }
            _ => Err(e),
        }
    }
}

fn code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    crate::auth::digest(&[b"zhijia-join-code", normal.as_bytes()])
}

/// The digest kept for the per-address limit: the address itself is not stored.
fn address_hash(address: &str, secret: &[u8]) -> String {
    crate::auth::digest(&[b"zhijia-join-address", secret, address.as_bytes()])
}

/// File an application. Returns its id and the progress code (shown once). Every application
/// to an enabled unit is accepted alike — one that repeats an account's or a live application's
/// employee number or phone too, so /join tells nobody who is a member or has applied: the
/// reviewer sees the repetition (`duplicates`) and rejects it, and the applicant reads that on
/// the status page. More than `PER_ADDRESS_PER_DAY` from one address in a day is refused.
pub fn apply(
    conn: &mut DbConnection,
    input: &JoinInput,
    address: &str,
    secret: &[u8],
    now: NaiveDateTime,
) -> AppResult<(i32, String)> {
    let addr = address_hash(address, secret);
    let code = crate::auth::random_token(5);
    let hash = code_hash(&code);
    let id = write_tx(conn, |conn| {
        let since = crate::time::minus(now, chrono::Duration::days(1));
        if model::applications_from(conn, &addr, since)? >= PER_ADDRESS_PER_DAY {
            return Err(AppError::TooManyRequests(
                "同一网络今天提交的入会申请已达上限，请明天再试或联系所在工会".into(),
            ));
        }
        let unit = crate::org::model::find(conn, input.unit_id)?
            .filter(|u| !u.disabled)
            .ok_or_else(|| AppError::field("unit_id", "请选择所在单位"))?;
        let id = model::insert_application(
            conn,
            &NewApplication {
                name: &input.name,
                employee_no: &input.employee_no,
                phone: &input.phone,
                unit_id: unit.id,
                statement: &input.statement,
                state: State::Submitted,
                code_hash: &hash,
                address_hash: &addr,
                created_at: now,
                updated_at: now,
            },
        )?;
        model::insert_application_event(
            conn,
            id,
            "state",
            None,
            Some(State::Submitted.as_str()),
            (None, &input.name),
            "提交入会申请",
            now,
        )?;
        let actor = Actor::system("入会申请人", now);
        crate::audit::record(
            conn,
            &actor,
            Some(unit.id),
            AuditAction::MembershipApply,
            ("membership_application", Some(id)),
            &format!("{} {}", input.employee_no, input.name),
        )?;
        for cadre in scope::responsible_cadres(conn, &unit)? {
            crate::notifications::notify(
                conn,
                cadre,
                &format!("新的入会申请：{}", input.name),
                &format!("/admin/membership/applications/{id}"),
                now,
                // The name is typed by anyone on the public form: not sent in the union's name.
                Out::Generic(Kind::Approval),
            )?;
        }
        Ok(id)
    })?;
    Ok((id, code))
}

/// What a live application repeats, for its reviewer: an account with its employee number or
/// phone among the members the reviewer manages, or another live application with either.
/// Accounts outside the reviewer's scope are not mentioned (a cadre must not learn through
/// /join who is a member elsewhere); the chair's approval refuses a number already in use.
/// Nothing once it is decided.
pub fn duplicates(
    conn: &mut DbConnection,
    user: &User,
    app: &Application,
) -> AppResult<Vec<&'static str>> {
    use crate::db::schema::{members, org_units};
    use diesel::prelude::*;
    let mut out = Vec::new();
    if !matches!(
        app.state,
        State::Submitted | State::Returned | State::Reviewed
    ) {
        return Ok(out);
    }
    let in_scope = |conn: &mut DbConnection, by_number: bool| -> AppResult<bool> {
        let q = members::table.inner_join(org_units::table).into_boxed();
        let q = if by_number {
            q.filter(members::employee_no.eq(&app.employee_no))
        } else {
            q.filter(members::phone.eq(&app.phone))
        };
        let paths: Vec<String> = q.select(org_units::path).load(conn)?;
        Ok(paths.iter().any(|p| crate::org::scope::manages(user, p)))
    };
    if in_scope(conn, true)? {
        out.push("该工号已有会员账号（如忘记密码，请告知申请人联系所在工会重置）");
    }
    if in_scope(conn, false)? {
        out.push("该手机号已登记在会员账号中");
    }
    if model::other_live_applications(conn, app.id, &app.employee_no, &app.phone)? > 0 {
        out.push("另有一份在办的入会申请使用同一工号或手机号");
    }
    Ok(out)
}

/// The application behind a phone number and progress code (`NotFound` otherwise).
pub fn find_by_code(conn: &mut DbConnection, phone: &str, code: &str) -> AppResult<Application> {
    let phone = crate::members::service::normalize_phone(phone)
        .ok()
        .flatten()
        .ok_or(AppError::NotFound)?;
    model::find_by_code(conn, &phone, &code_hash(code))?.ok_or(AppError::NotFound)
}

/// The applicant answers a return with an amended statement.
pub fn resubmit(
    conn: &mut DbConnection,
    app: &Application,
    statement: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let statement = crate::text::clean(statement);
    let n = statement.chars().count();
    if !(10..=STATEMENT_MAX).contains(&n) {
        return Err(AppError::field(
            "statement",
            format!("入会申请说明请写 10 到 {STATEMENT_MAX} 个字"),
        ));
    }
    write_tx(conn, |conn| {
        let actor = Actor::system("入会申请人", now);
        let by = By {
            actor: &actor,
            label: &app.name,
            anonymous: false,
        };
        let mut rec = Record::new(AuditAction::MembershipResubmit);
        rec.body = &statement;
        workflow::transition(conn, app, Action::Resubmit, None, &by, &rec)?;
        model::set_statement(conn, app.id, &statement)
    })
}

/// Whether the user may take `action` on an application in `state` for the unit at `path`:
/// the branch (a cadre or chair over the unit) reviews, returns or rejects a new one; the
/// union's chair over the unit approves, returns or rejects a reviewed one.
pub fn may_act(user: &User, state: State, action: Action, unit_path: &str) -> bool {
    if !FLOW.allows(action, state) || action == Action::Resubmit {
        return false;
    }
    match state {
        State::Submitted => scope::handles(user, unit_path),
        State::Returned => action == Action::Reject && scope::handles(user, unit_path),
        State::Reviewed => scope::holds_over(user, unit_path, &[Role::Chair]),
        _ => false,
    }
}

/// An application the user may see (a cadre or chair over its unit), else `NotFound`.
pub fn load_for(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
) -> AppResult<(Application, crate::org::OrgUnit)> {
    let app = model::find_application(conn, id)?.ok_or(AppError::NotFound)?;
    let unit = crate::org::model::find(conn, app.unit_id)?.ok_or(AppError::NotFound)?;
    if !scope::handles(user, &unit.path) {
        return Err(AppError::NotFound);
    }
    Ok((app, unit))
}

/// A cadre's or chair's decision. On approval the account is created and the initial
/// password returned (shown once).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    version: i32,
    action: Action,
    reason: &str,
    password_hash: &str,
) -> AppResult<Option<i32>> {
    let reason = crate::text::clean(reason);
    if matches!(action, Action::Return | Action::Reject) && reason.chars().count() < 2 {
        return Err(AppError::field("reason", "退回或不予通过时请写明原因"));
    }
    if reason.chars().count() > 500 {
        return Err(AppError::field("reason", "原因请控制在 500 字以内"));
    }
    write_tx(conn, |conn| {
        let (app, unit) = load_for(conn, user, id)?;
        if app.version != version {
            return Err(AppError::Conflict(workflow::CONFLICT.into()));
        }
        if !may_act(user, app.state, action, &unit.path) {
            return Err(AppError::Forbidden);
        }
        // Two pairs of eyes: whoever reviewed it does not approve it too.
        if action == Action::Approve && model::reviewer_of(conn, app.id)? == Some(user.id) {
            return Err(AppError::Validation(
                "初审和审批须由不同的人办理：请由工会主席审批".into(),
            ));
        }
        let by = By {
            actor,
            label: &actor.name,
            anonymous: false,
        };
        let audit = match action {
            Action::Review => AuditAction::MembershipReview,
            Action::Return => AuditAction::MembershipReturn,
            Action::Reject => AuditAction::MembershipReject,
            Action::Approve => AuditAction::MembershipApprove,
            Action::Resubmit => AuditAction::MembershipResubmit,
        };
        let mut rec = Record::new(audit);
        rec.body = &reason;
        rec.detail = &app.employee_no;
        let to = workflow::transition(conn, &app, action, None, &by, &rec)?;
        match to {
            State::Approved => {
                let member_id = create_account(conn, actor, &app, password_hash)?;
                model::set_application_outcome(conn, app.id, None, Some(member_id))?;
                Ok(Some(member_id))
            }
            State::Reviewed => {
                for chair in scope::nearest_holders(conn, &unit, &[Role::Chair])? {
                    crate::notifications::notify(
                        conn,
                        chair,
                        &format!("入会申请待审批：{}", app.name),
                        &format!("/admin/membership/applications/{}", app.id),
                        actor.now,
                        Out::Generic(Kind::Approval),
                    )?;
                }
                Ok(None)
            }
            _ => {
                model::set_application_outcome(conn, app.id, Some(&reason), None)?;
                Ok(None)
            }
        }
    })
}

fn create_account(
    conn: &mut DbConnection,
    actor: &Actor,
    app: &Application,
    password_hash: &str,
) -> AppResult<i32> {
    if crate::members::model::find_by_employee_no(conn, &app.employee_no)?.is_some()
        || crate::members::model::phone_taken(conn, &app.phone, None)?
    {
        return Err(AppError::Validation(
            "该工号或手机号已有会员账号（可能是申请期间由导入建立），请不予通过".into(),
        ));
    }
    let id = crate::members::model::insert_noted(
        conn,
        &crate::members::model::NewMember {
            employee_no: &app.employee_no,
            phone: Some(&app.phone),
            name: &app.name,
            unit_id: app.unit_id,
            password_hash: Some(password_hash),
            must_change_password: true,
            is_admin: false,
            disabled: false,
            created_at: actor.now,
            updated_at: actor.now,
        },
        "批准入会",
    )?;
    crate::audit::record(
        conn,
        actor,
        Some(app.unit_id),
        AuditAction::MemberCreate,
        ("member", Some(id)),
        &format!("{} {}（入会申请 {}）", app.employee_no, app.name, app.id),
    )?;
    Ok(id)
}
