//! The grievance rules: submission (named or anonymous), who may see a case, every cadre and
//! member action as one transaction with its timeline entry, audit row and notifications.

use chrono::{Duration, NaiveDateTime};

use super::actions;
use super::model::{
    self, Action, Grievance, GrievanceChanges, NewEvent, NewGrievance, State, CATEGORIES,
};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::notifications::notify;
use crate::org::{self, scope};
use crate::outbox::{Kind, Out};
use crate::workflow::calendar::Calendar;
use crate::workflow::{self, date_only, By, Flow, Transition};

pub static FLOW: Flow<State, Action> = Flow {
    table: "grievances",
    transitions: &[
        Transition {
            action: Action::Accept,
            from: &[State::Submitted, State::Escalated],
            to: State::Accepted,
        },
        Transition {
            action: Action::Reject,
            from: &[State::Submitted, State::Escalated],
            to: State::Rejected,
        },
        Transition {
            action: Action::Start,
            from: &[State::Accepted],
            to: State::InProgress,
        },
        Transition {
            action: Action::Answer,
            from: &[State::Accepted, State::InProgress],
            to: State::Answered,
        },
        Transition {
            action: Action::Escalate,
            from: &[
                State::Submitted,
                State::Escalated,
                State::Accepted,
                State::InProgress,
            ],
            to: State::Escalated,
        },
        Transition {
            action: Action::Rate,
            from: &[State::Answered],
            to: State::Rated,
        },
        Transition {
            action: Action::Reopen,
            from: &[State::Answered],
            to: State::InProgress,
        },
        Transition {
            action: Action::Close,
            from: &[State::Answered],
            to: State::Closed,
        },
    ],
};

/// Time limits, in the `settings` table (admins change them on the case list page), and the
/// working-day calendar they count by.
#[derive(Debug, Clone)]
pub struct Limits {
    pub accept_working_days: u32,
    pub answer_days: i64,
    pub calendar: std::sync::Arc<Calendar>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            accept_working_days: 2,
            answer_days: 15,
            calendar: std::sync::Arc::default(),
        }
    }
}

pub use super::model::REOPEN_DAYS;

pub fn limits(conn: &mut DbConnection) -> AppResult<Limits> {
    let d = Limits::default();
    Ok(Limits {
        accept_working_days: crate::settings::get_u32(conn, "grievance.accept_working_days")?
            .unwrap_or(d.accept_working_days),
        answer_days: i64::from(
            crate::settings::get_u32(conn, "grievance.answer_days")?.unwrap_or(15),
        ),
        calendar: std::sync::Arc::new(Calendar::load(conn)?),
    })
}

pub(super) fn due_for(state: State, limits: &Limits, now: NaiveDateTime) -> Option<NaiveDateTime> {
    match state {
        State::Submitted | State::Escalated => Some(
            limits
                .calendar
                .add_working_days(now, limits.accept_working_days),
        ),
        State::Accepted | State::InProgress => {
            Some(crate::time::plus(now, Duration::days(limits.answer_days)))
        }
        _ => None,
    }
}

/// What the member filled in.
#[derive(Debug, Default, Clone)]
pub struct SubmitForm {
    pub category: String,
    pub title: String,
    pub description: String,
    pub desired_outcome: String,
    pub anonymous: bool,
    pub unit_id: String,
    pub submit_token: String,
}

pub use crate::attachments::TypedFile as File;

fn required(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    label: &str,
    max: usize,
) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.add(field, format!("请填写{label}"));
    } else if v.chars().count() > max {
        errors.add(field, format!("{label}不能超过 {max} 字"));
    }
    v.to_string()
}

impl SubmitForm {
    /// Field errors, checked without the database.
    pub fn check(&self) -> FieldErrors {
        let mut e = FieldErrors::default();
        if !CATEGORIES.iter().any(|(c, _)| *c == self.category) {
            e.add("category", "请选择问题类别");
        }
        required(&mut e, "title", &self.title, "标题", 60);
        required(&mut e, "description", &self.description, "问题描述", 5000);
        required(
            &mut e,
            "desired_outcome",
            &self.desired_outcome,
            "期望的处理结果",
            1000,
        );
        if self.anonymous && self.unit_id.parse::<i32>().is_err() {
            e.add("unit_id", "匿名申诉请选择受理的工会组织");
        }
        if self.submit_token.len() < 16 {
            e.add("title", "表单已过期，请刷新页面后重新填写");
        }
        e
    }
}

/// Outcome of a submission.
#[derive(Debug)]
pub enum Submitted {
    /// The case's public reference.
    Named(String),
    /// The receipt code, shown once.
    Anonymous(String),
    /// The same form arrived again (double click, refresh): nothing new was created.
    Duplicate { case_ref: String, anonymous: bool },
}

/// Normalise a typed receipt: Crockford base32, dashes and spaces ignored, I/L→1, O→0.
pub fn normalize_receipt(raw: &str) -> String {
    crate::text::to_halfwidth(raw)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            u => u,
        })
        .collect()
}

/// The receipt shown to people: 16 characters in groups of four.
pub fn format_receipt(r: &str) -> String {
    r.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

fn receipt_hash(receipt: &str) -> String {
    crate::auth::digest(&[b"zhijia-receipt", normalize_receipt(receipt).as_bytes()])
}

/// File a case. Named cases go to the member's grid cadre, else to the cadres of their unit;
/// anonymous ones to the chosen unit, with nothing that links them to the member: no member id,
/// no session, no address, and the date instead of the time everywhere.
pub fn submit(
    conn: &mut DbConnection,
    user: &User,
    form: &SubmitForm,
    files: &[File],
    now: NaiveDateTime,
) -> AppResult<Submitted> {
    let limits = limits(conn)?;
    write_tx(conn, |conn| {
        if let Some((case_ref, anonymous)) = model::ref_by_submit_token(conn, &form.submit_token)? {
            return Ok(Submitted::Duplicate {
                case_ref,
                anonymous,
            });
        }
        let public_ref = new_public_ref(conn, now)?;
        let intake = intake(conn, user, form, now)?;
        let at = intake.at;
        let hash = intake.receipt.as_deref().map(receipt_hash);
        let id = model::insert(
            conn,
            &NewGrievance {
                member_id: (!form.anonymous).then_some(user.id),
                anonymous: form.anonymous,
                receipt_hash: hash.as_deref(),
                submit_token: &form.submit_token,
                unit_id: intake.unit.id,
                handler_id: intake.handler,
                category: &form.category,
                title: form.title.trim(),
                description: form.description.trim(),
                desired_outcome: form.desired_outcome.trim(),
                state: State::Submitted,
                version: 1,
                due_at: due_for(State::Submitted, &limits, at),
                overdue: false,
                escalations: 0,
                reopened: false,
                created_at: at,
                updated_at: at,
                public_ref: &public_ref,
            },
        )?;
        let author = if form.anonymous {
            "匿名会员"
        } else {
            user.name.as_str()
        };
        model::insert_event(
            conn,
            &NewEvent {
                grievance_id: id,
                kind: "state",
                from_state: None,
                to_state: Some(State::Submitted.as_str()),
                author_id: (!form.anonymous).then_some(user.id),
                author_label: author,
                body: "",
                internal: false,
                created_at: at,
            },
        )?;
        for (name, mime, data) in files {
            model::insert_attachment(conn, id, name, mime, data, at)?;
        }
        announce(conn, user, form, &intake, &public_ref, now)?;
        Ok(match intake.receipt {
            Some(r) => Submitted::Anonymous(r),
            None => Submitted::Named(public_ref),
        })
    })
}

/// A letter to the chair that becomes a case: filed in the union the letter was addressed to,
/// with no handler (the chair picks one), never routed to the writer's own grid cadre (who may
/// be the one the letter complains about). The chair is the actor; an anonymous letter gives an
/// anonymous case stamped with the day only. Call inside the letter's transaction.
pub fn file_from_letter(
    conn: &mut DbConnection,
    chair: &Actor,
    letter: &FromLetter<'_>,
) -> AppResult<String> {
    let limits = limits(conn)?;
    let public_ref = new_public_ref(conn, chair.now)?;
    let at = if letter.anonymous {
        date_only(chair.now)
    } else {
        chair.now
    };
    let title: String = letter.subject.chars().take(60).collect();
    let id = model::insert(
        conn,
        &NewGrievance {
            member_id: if letter.anonymous {
                None
            } else {
                letter.member_id
            },
            anonymous: letter.anonymous,
            receipt_hash: None,
            submit_token: &crate::auth::random_token(16),
            unit_id: letter.unit_id,
            handler_id: None,
            category: "other",
            title: &title,
            description: letter.body,
            desired_outcome: "（由主席信箱来信转来）",
            state: State::Submitted,
            version: 1,
            due_at: due_for(State::Submitted, &limits, at),
            overdue: false,
            escalations: 0,
            reopened: false,
            created_at: at,
            updated_at: at,
            public_ref: &public_ref,
        },
    )?;
    model::insert_event(
        conn,
        &NewEvent {
            grievance_id: id,
            kind: "state",
            from_state: None,
            to_state: Some(State::Submitted.as_str()),
            author_id: chair.id,
            author_label: &chair.name,
            body: "由主席信箱来信转来",
            internal: false,
            created_at: at,
        },
    )?;
    audit::record_as(
        conn,
        chair,
        Some(letter.unit_id),
        crate::audit::AuditAction::GrievanceSubmit,
        ("grievance", Some(&public_ref)),
        "由主席信箱来信转来",
    )?;
    Ok(public_ref)
}

/// What a case made from a letter to the chair takes from it.
pub struct FromLetter<'a> {
    /// The writer of a named letter.
    pub member_id: Option<i32>,
    pub anonymous: bool,
    /// The union the letter was addressed to.
    pub unit_id: i32,
    pub subject: &'a str,
    pub body: &'a str,
}

/// Where a new case goes and how it is stamped.
struct Intake {
    unit: org::OrgUnit,
    /// The member's grid cadre, who handles their named cases first.
    handler: Option<i32>,
    /// The filing time as stored: the day only for an anonymous case.
    at: NaiveDateTime,
    /// The receipt code shown once for an anonymous case.
    receipt: Option<String>,
}

/// A named case goes to the member's own unit and grid cadre; an anonymous one to the unit
/// the member chose, with no handler, stamped with the day only, and a receipt code.
fn intake(
    conn: &mut DbConnection,
    user: &User,
    form: &SubmitForm,
    now: NaiveDateTime,
) -> AppResult<Intake> {
    if form.anonymous {
        let unit = form
            .unit_id
            .parse::<i32>()
            .ok()
            .map(|id| org::model::find(conn, id))
            .transpose()?
            .flatten()
            .filter(|u| !u.disabled)
            .ok_or_else(|| AppError::Validation("请选择受理的工会组织".into()))?;
        return Ok(Intake {
            unit,
            handler: None,
            at: date_only(now),
            receipt: Some(crate::auth::random_token(10)),
        });
    }
    let unit = org::model::find(conn, user.unit_id)?.ok_or(AppError::NotFound)?;
    let member = crate::members::model::find(conn, user.id)?.ok_or(AppError::NotFound)?;
    Ok(Intake {
        unit,
        handler: member.grid_cadre_id,
        at: now,
        receipt: None,
    })
}

/// Audit the filing (late and date-only when anonymous) and tell the cadres who handle it.
fn announce(
    conn: &mut DbConnection,
    user: &User,
    form: &SubmitForm,
    intake: &Intake,
    public_ref: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let category = model::category_label(&form.category);
    if form.anonymous {
        audit::record_anonymous(
            conn,
            Some(intake.unit.id),
            crate::audit::AuditAction::GrievanceSubmit,
            ("grievance", public_ref),
            category,
            now,
        )?;
    } else {
        audit::record_as(
            conn,
            &Actor::user(user, None, now),
            Some(intake.unit.id),
            crate::audit::AuditAction::GrievanceSubmit,
            ("grievance", Some(public_ref)),
            category,
        )?;
    }
    let recipients = match intake.handler {
        Some(h) => vec![h],
        None => scope::responsible_cadres(conn, &intake.unit)?,
    };
    for r in recipients {
        notify(
            conn,
            r,
            &format!("新的维权申诉：{}", form.title.trim()),
            &format!("/admin/grievances/{public_ref}"),
            intake.at,
            // Nothing about an anonymous case leaves the portal: a message timed to the
            // filing would say when it was written.
            if form.anonymous {
                Out::Never
            } else {
                Out::Generic(Kind::Approval)
            },
        )?;
    }
    Ok(())
}

/// A new public reference: `WQ-`, the Beijing year, five random Crockford base32 characters
/// (33 million a year, so guessing one is hopeless and the order of filing is not in it).
fn new_public_ref(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<String> {
    let year = crate::time::to_beijing(&now).format("%Y").to_string();
    for _ in 0..8 {
        let code: String = crate::auth::random_token(4)
            .to_ascii_uppercase()
            .chars()
            .take(5)
            .collect();
        let r = format!("WQ-{year}-{code}");
        if !model::ref_taken(conn, &r)? {
            return Ok(r);
        }
    }
    Err(AppError::Internal(
        "no free case reference after 8 tries".into(),
    ))
}

/// A member's own named case, else NotFound.
pub fn load_for_member(
    conn: &mut DbConnection,
    user: &User,
    case_ref: &str,
) -> AppResult<Grievance> {
    model::find_by_ref(conn, case_ref)?
        .filter(|g| g.member_id == Some(user.id))
        .ok_or(AppError::NotFound)
}

/// The case behind a receipt, else NotFound (a wrong code and an unknown one are the same).
pub fn load_by_receipt(conn: &mut DbConnection, receipt: &str) -> AppResult<Grievance> {
    let r = normalize_receipt(receipt);
    if r.len() != 16 {
        return Err(AppError::NotFound);
    }
    model::find_by_receipt(conn, &receipt_hash(&r))?
        .filter(|g| g.anonymous)
        .ok_or(AppError::NotFound)
}

/// A case the cadre may handle (unit in their scope, or assigned to them), else NotFound.
pub fn load_for_cadre(
    conn: &mut DbConnection,
    user: &User,
    case_ref: &str,
) -> AppResult<(Grievance, org::OrgUnit)> {
    let g = model::find_by_ref(conn, case_ref)?.ok_or(AppError::NotFound)?;
    let unit = org::model::find(conn, g.unit_id)?.ok_or(AppError::NotFound)?;
    if !(scope::handles(user, &unit.path) || g.handler_id == Some(user.id)) {
        return Err(AppError::NotFound);
    }
    Ok((g, unit))
}

/// Record that a cadre opened a named case (who looked at whose personal data).
pub fn record_view(conn: &mut DbConnection, actor: &Actor, g: &Grievance) -> AppResult<()> {
    if g.anonymous {
        return Ok(());
    }
    write_tx(conn, |conn| {
        audit::record_as(
            conn,
            actor,
            Some(g.unit_id),
            crate::audit::AuditAction::GrievanceView,
            ("grievance", Some(g.public_ref.as_str())),
            &g.title,
        )
    })
}

/// What a cadre does on the case page.
#[derive(Debug, Clone)]
pub enum CadreAction {
    Accept,
    Reject { reason: String },
    Reply { text: String },
    Note { text: String },
    Answer { resolution: String },
    Assign { cadre_id: i32 },
    Escalate,
    Close,
}

pub(super) fn text_or(errors_msg: &str, text: &str, max: usize) -> AppResult<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AppError::Validation(errors_msg.into()));
    }
    if t.chars().count() > max {
        return Err(AppError::Validation(format!("内容不能超过 {max} 字")));
    }
    Ok(t.to_string())
}

/// Apply a cadre's action to the case they saw at `version`. Fails with Conflict when someone
/// else changed the case first; nothing is written then.
pub fn cadre_act(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    case_ref: &str,
    version: i32,
    action: CadreAction,
) -> AppResult<()> {
    let limits = limits(conn)?;
    write_tx(conn, |conn| {
        let (g, unit) = load_for_cadre(conn, user, case_ref)?;
        if g.version != version {
            return Err(AppError::Conflict(workflow::CONFLICT.into()));
        }
        let c = actions::Cadre {
            g: &g,
            unit: &unit,
            user,
            by: By {
                actor,
                label: &user.name,
                anonymous: false,
            },
            limits: &limits,
        };
        match &action {
            CadreAction::Accept => actions::accept(conn, &c),
            CadreAction::Reject { reason } => actions::reject(conn, &c, reason),
            CadreAction::Reply { text } => actions::reply(conn, &c, text),
            CadreAction::Note { text } => actions::note(conn, &c, text),
            CadreAction::Answer { resolution } => actions::answer(conn, &c, resolution),
            CadreAction::Assign { cadre_id } => actions::assign(conn, &c, *cadre_id),
            CadreAction::Escalate => actions::escalate(conn, &g, &unit, &limits, &c.by, false),
            CadreAction::Close => actions::close(conn, &c),
        }
    })
}

/// Claim the case for an action that changes no state (reply, note, assign): the version still
/// moves, so two cadres acting on the same view cannot both win silently.
fn bump(conn: &mut DbConnection, g: &Grievance, now: NaiveDateTime) -> AppResult<()> {
    use crate::db::schema::grievances;
    use diesel::prelude::*;
    let n = diesel::update(
        grievances::table
            .filter(grievances::id.eq(g.id))
            .filter(grievances::version.eq(g.version)),
    )
    .set((
        grievances::version.eq(g.version.saturating_add(1)),
        grievances::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n != 1 {
        return Err(AppError::Conflict(workflow::CONFLICT.into()));
    }
    Ok(())
}

/// What a member (or the holder of a receipt) does on their case.
#[derive(Debug, Clone)]
pub enum MemberAction {
    Reply { text: String },
    Rate { rating: i32, comment: String },
    Reopen { reason: String },
}

/// Apply a member's action to case `g` (already access-checked). For anonymous cases every
/// time written is the date only, and no member id is recorded.
pub fn member_act(
    conn: &mut DbConnection,
    g: &Grievance,
    author: Option<&User>,
    action: MemberAction,
    now: NaiveDateTime,
) -> AppResult<()> {
    let limits = limits(conn)?;
    let actor = match (g.anonymous, author) {
        (false, Some(u)) => Actor {
            id: Some(u.id),
            name: u.name.clone(),
            ip: None,
            now,
        },
        _ => Actor {
            id: None,
            name: "匿名会员".to_string(),
            ip: None,
            now,
        },
    };
    write_tx(conn, |conn| {
        let g = model::find(conn, g.id)?.ok_or(AppError::NotFound)?;
        let m = actions::Member {
            g: &g,
            by: By {
                actor: &actor,
                label: &actor.name,
                anonymous: g.anonymous,
            },
            limits: &limits,
        };
        match &action {
            MemberAction::Reply { text } => actions::member_reply(conn, &m, text),
            MemberAction::Rate { rating, comment } => actions::rate(conn, &m, *rating, comment),
            MemberAction::Reopen { reason } => actions::reopen(conn, &m, reason),
        }
    })
}

/// The background job: escalate cases past their time limit to the parent unit (flagged
/// overdue) and close answers left unrated for 7 days. Safe on several instances: each case
/// moves by a guarded update, so a case is escalated once whoever runs the job.
pub fn run_deadlines(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<(usize, usize)> {
    let limits = limits(conn)?;
    let mut escalated = 0usize;
    for g in model::past_due(conn, now, 200)? {
        let res = write_tx(conn, |conn| {
            let unit = org::model::find(conn, g.unit_id)?.ok_or(AppError::NotFound)?;
            if unit.parent_id.is_none() {
                // Nowhere to go: flag it once so the top union sees it first.
                if !g.overdue {
                    bump(conn, &g, now)?;
                    model::set_fields(
                        conn,
                        g.id,
                        &GrievanceChanges {
                            overdue: Some(true),
                            updated_at: Some(now),
                            ..Default::default()
                        },
                    )?;
                }
                return Ok(false);
            }
            let system = Actor::system("系统", now);
            let by = By {
                actor: &system,
                label: "系统",
                anonymous: false,
            };
            actions::escalate(conn, &g, &unit, &limits, &by, true)?;
            Ok(true)
        });
        match res {
            Ok(true) => escalated = escalated.saturating_add(1),
            Ok(false) | Err(AppError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let mut closed = 0usize;
    let answered_by = crate::time::minus(now, Duration::days(REOPEN_DAYS));
    for g in model::answered_before(conn, answered_by, 200)? {
        let res = write_tx(conn, |conn| actions::auto_close(conn, &g, now));
        match res {
            Ok(()) => closed = closed.saturating_add(1),
            Err(AppError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((escalated, closed))
}

/// Change the time limits (admins), audited; they apply to steps taken from now on.
pub fn set_limits(conn: &mut DbConnection, actor: &Actor, limits: Limits) -> AppResult<()> {
    write_tx(conn, |conn| {
        let (a, d) = (limits.accept_working_days, limits.answer_days);
        crate::settings::set(
            conn,
            "grievance.accept_working_days",
            &a.to_string(),
            actor.now,
        )?;
        crate::settings::set(conn, "grievance.answer_days", &d.to_string(), actor.now)?;
        audit::record(
            conn,
            actor,
            None,
            crate::audit::AuditAction::SettingsChange,
            ("settings", None),
            &format!("申诉时限：受理 {a} 个工作日，答复 {d} 天"),
        )
    })
}

/// A case row with the names a list shows.
pub struct CaseRow {
    pub g: Grievance,
    pub unit_name: String,
    pub late: bool,
}

/// Cases in the user's reach matching `filter` (only those waiting for a cadre when
/// `open_only`), one page, with the units the user manages (the list's unit filter).
pub fn case_rows(
    conn: &mut DbConnection,
    user: &User,
    filter: &model::CaseFilter,
    open_only: bool,
    now: NaiveDateTime,
) -> AppResult<(Vec<CaseRow>, crate::forms::Pager, Vec<org::OrgUnit>)> {
    let units = scope::managed_units(conn, user)?;
    let ids: Option<Vec<i32>> = (!user.is_admin).then(|| units.iter().map(|u| u.id).collect());
    let (cases, pager) = model::search(conn, ids.as_deref(), user.id, filter, open_only, now, 20)?;
    let all = org::model::all(conn)?;
    let rows = cases
        .into_iter()
        .map(|g| CaseRow {
            unit_name: all
                .iter()
                .find(|u| u.id == g.unit_id)
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            late: g.is_late(now),
            g,
        })
        .collect();
    Ok((rows, pager, units))
}
