//! Pages of 转会 and the member's own membership page (`/me/membership`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{StatusEvent, TimelineRow, Transfer};
use super::transfer::{self, Action, State};
use super::Status;
use crate::audit::{Actor, AuditAction};
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::auth::{CurrentUser, User};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::org::{scope, OrgUnit};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx, FieldErrors};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/membership", web::get().to(mine))
        .route("/me/membership/transfer", web::post().to(start_mine))
        .route(
            "/me/membership/transfer/{id}/cancel",
            web::post().to(cancel_mine),
        )
        .route("/admin/membership/transfers/new", web::get().to(new_form))
        .route("/admin/membership/transfers/new", web::post().to(start_for))
        .route("/admin/membership/transfers/{id}", web::get().to(show))
        .route("/admin/membership/transfers/{id}", web::post().to(act));
}

/// A transfer as lists show it.
#[derive(Debug, Clone)]
pub struct TransferRow {
    pub t: Transfer,
    pub member: String,
    pub from: String,
    pub to: String,
}

impl MinePage {
    fn yuan(&self, fen: &i64) -> String {
        crate::benefits::model::yuan(*fen)
    }
}

impl TransferRow {
    pub fn started(&self) -> String {
        crate::time::beijing(&self.t.created_at, "%Y-%m-%d")
    }
}

/// Transfers the user handles (a cadre over either unit): open ones, or finished with `done`.
pub fn rows_for(conn: &mut DbConnection, user: &User, done: bool) -> AppResult<Vec<TransferRow>> {
    let states: &[State] = if done {
        &[State::Accepted, State::Refused, State::Cancelled]
    } else {
        &[State::Requested, State::Released]
    };
    let units = scope::managed_unit_ids(conn, user)?;
    let mut out = Vec::new();
    for t in super::model::transfers_in_states(conn, states, units.as_deref())? {
        let (Some(from), Some(to)) = (
            crate::org::model::find(conn, t.from_unit_id)?,
            crate::org::model::find(conn, t.to_unit_id)?,
        ) else {
            continue;
        };
        if !scope::handles(user, &from.path) && !scope::handles(user, &to.path) {
            continue;
        }
        let member = crate::members::model::find(conn, t.member_id)?
            .map(|m| m.name)
            .unwrap_or_default();
        out.push(TransferRow {
            t,
            member,
            from: from.name,
            to: to.name,
        });
    }
    Ok(out)
}

fn enabled_units(conn: &mut DbConnection) -> AppResult<Vec<OrgUnit>> {
    Ok(crate::org::model::all(conn)?
        .into_iter()
        .filter(|u| !u.disabled)
        .collect())
}

#[derive(Template)]
#[template(path = "membership/mine.html")]
struct MinePage {
    ctx: Ctx,
    status: Status,
    history: Vec<StatusEvent>,
    transfers: Vec<TransferRow>,
    /// (month, fen), newest first.
    dues: Vec<(String, i64)>,
    units: Vec<OrgUnit>,
    errors: FieldErrors,
    to_unit: String,
    reason: String,
}

async fn mine_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: &User,
    errors: FieldErrors,
    to_unit: String,
    reason: String,
) -> AppResult<MinePage> {
    let id = user.id;
    let (history, transfers, units, status, dues) = db::run(&state.pool, move |conn| {
        let history = super::model::history(conn, id)?;
        let mut rows = Vec::new();
        for t in super::model::transfers_of(conn, id)? {
            let from = crate::org::model::find(conn, t.from_unit_id)?
                .map(|u| u.name)
                .unwrap_or_default();
            let to = crate::org::model::find(conn, t.to_unit_id)?
                .map(|u| u.name)
                .unwrap_or_default();
            rows.push(TransferRow {
                t,
                member: String::new(),
                from,
                to,
            });
        }
        // Read the status afresh: the session's copy may predate a step just taken.
        let status = crate::members::model::find(conn, id)?
            .and_then(|m| Status::parse(&m.status))
            .unwrap_or(Status::Member);
        let dues = super::model::dues_of(conn, id)?;
        Ok((history, rows, enabled_units(conn)?, status, dues))
    })
    .await?;
    Ok(MinePage {
        ctx,
        status,
        history,
        transfers,
        dues,
        units,
        errors,
        to_unit,
        reason,
    })
}

async fn mine(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    let page = mine_page(
        &state,
        ctx,
        &user,
        FieldErrors::default(),
        String::new(),
        String::new(),
    )
    .await?;
    render(&page)
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    member: String,
    #[serde(default)]
    to_unit: String,
    #[serde(default)]
    reason: String,
}

async fn start(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: &std::sync::Arc<User>,
    member: i32,
    f: &StartForm,
) -> AppResult<i32> {
    let to = f
        .to_unit
        .trim()
        .parse::<i32>()
        .map_err(|_| AppError::field("to_unit", "请选择转入单位"))?;
    let actor = Actor::user(user, client_ip(req), state.config.clock.now());
    let (u, reason) = (user.clone(), f.reason.clone());
    db::run(&state.pool, move |conn| {
        transfer::start(conn, &u, &actor, member, to, &reason)
    })
    .await
}

async fn start_mine(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    Form(f): Form<StartForm>,
) -> AppResult<HttpResponse> {
    match start(&state, &req, &user, user.id, &f).await {
        Ok(_) => Ok(redirect_flash(
            "/me/membership",
            "ok",
            "转会申请已提交，等待转出单位同意",
        )),
        Err(AppError::Validation(m)) => Ok(redirect_flash("/me/membership", "error", &m)),
        Err(e) => {
            let errors = e.fields()?;
            let page = mine_page(&state, ctx, &user, errors, f.to_unit, f.reason).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    version: i32,
}

/// The member withdraws their own open transfer.
async fn cancel_mine(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
    Form(f): Form<CancelForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let result = db::run(&state.pool, move |conn| {
        let t = super::model::find_transfer(conn, id)?
            .filter(|t| t.member_id == user.id)
            .ok_or(AppError::NotFound)?;
        transfer::act(conn, &user, &actor, t.id, f.version, Action::Cancel, "")
    })
    .await;
    match result {
        Ok(_) => Ok(redirect_flash("/me/membership", "ok", "转会申请已撤回")),
        Err(AppError::Conflict(m) | AppError::Validation(m)) => {
            Ok(redirect_flash("/me/membership", "error", &m))
        }
        Err(AppError::Forbidden) => Ok(redirect_flash(
            "/me/membership",
            "error",
            "该转会已办结，不能撤回",
        )),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "admin/membership/transfer_new.html")]
struct NewPage {
    ctx: Ctx,
    member_id: i32,
    member: String,
    from: String,
    units: Vec<OrgUnit>,
    errors: FieldErrors,
    to_unit: String,
    reason: String,
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    member: i32,
}

async fn new_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: &std::sync::Arc<User>,
    member_id: i32,
    errors: FieldErrors,
    to_unit: String,
    reason: String,
) -> AppResult<NewPage> {
    let u = user.clone();
    let (m, from, units) = db::run(&state.pool, move |conn| {
        let (m, _) = crate::members::service::load_in_scope(conn, &u, member_id)?;
        let from = crate::org::model::find(conn, m.unit_id)?.ok_or(AppError::NotFound)?;
        Ok((m, from, enabled_units(conn)?))
    })
    .await?;
    Ok(NewPage {
        ctx,
        member_id,
        member: format!("{}（工号 {}）", m.name, m.employee_no),
        from: from.name,
        units,
        errors,
        to_unit,
        reason,
    })
}

async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<NewQuery>,
) -> AppResult<HttpResponse> {
    let page = new_page(
        &state,
        ctx,
        &user,
        q.member,
        FieldErrors::default(),
        String::new(),
        String::new(),
    )
    .await?;
    render(&page)
}

async fn start_for(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    Form(f): Form<StartForm>,
) -> AppResult<HttpResponse> {
    let member: i32 = f.member.trim().parse().map_err(|_| AppError::NotFound)?;
    match start(&state, &req, &user, member, &f).await {
        Ok(id) => Ok(redirect_flash(
            &format!("/admin/membership/transfers/{id}"),
            "ok",
            "已发起转会，等待转出单位同意",
        )),
        Err(AppError::Validation(m)) => Ok(redirect_flash(
            &format!("/admin/members/{member}"),
            "error",
            &m,
        )),
        Err(e) => {
            let errors = e.fields()?;
            let page = new_page(&state, ctx, &user, member, errors, f.to_unit, f.reason).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Template)]
#[template(path = "admin/membership/transfer.html")]
struct TransferPage {
    ctx: Ctx,
    row: TransferRow,
    cross: bool,
    timeline: Vec<TimelineRow>,
    actions: Vec<Action>,
    errors: FieldErrors,
    note: String,
}

async fn transfer_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<User>,
    id: i32,
    errors: FieldErrors,
    note: String,
) -> AppResult<TransferPage> {
    let u = user.clone();
    let (t, from, to, member, timeline) = db::run(&state.pool, move |conn| {
        let (t, from, to) = transfer::load_for(conn, &u, id)?;
        // Cadres only: the member follows on /me/membership.
        if !scope::handles(&u, &from.path) && !scope::handles(&u, &to.path) {
            return Err(AppError::NotFound);
        }
        let member = crate::members::model::find(conn, t.member_id)?
            .map(|m| format!("{}（工号 {}）", m.name, m.employee_no))
            .unwrap_or_default();
        let timeline = super::model::transfer_timeline(conn, id)?;
        Ok((t, from, to, member, timeline))
    })
    .await?;
    let mut actions: Vec<Action> = Action::ALL
        .iter()
        .copied()
        .filter(|a| transfer::may_act(&user, *a, t.state, &from, &to))
        .collect();
    if t.started_by == Some(user.id) && transfer::FLOW.allows(Action::Cancel, t.state) {
        actions.push(Action::Cancel);
    }
    Ok(TransferPage {
        ctx,
        cross: transfer::cross_company(&from, &to),
        row: TransferRow {
            t,
            member,
            from: from.name,
            to: to.name,
        },
        timeline,
        actions,
        errors,
        note,
    })
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let page = transfer_page(
        &state,
        ctx,
        user,
        path.into_inner(),
        FieldErrors::default(),
        String::new(),
    )
    .await?;
    // The member's transfer was shown: audited, and listed on their /me/privacy.
    let t = &page.row.t;
    let (id, unit, member) = (t.id.to_string(), t.from_unit_id, t.member_id);
    db::run(&state.pool, move |conn| {
        crate::audit::record_view(
            conn,
            &actor,
            Some(unit),
            AuditAction::TransferView,
            ("member_transfer", id.as_str()),
            Some(member),
        )
    })
    .await?;
    render(&page)
}

#[derive(Deserialize)]
pub struct ActForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    note: String,
}

async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(f): Form<ActForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let action =
        Action::parse(&f.action).ok_or_else(|| AppError::Validation("未知的操作".into()))?;
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let (u, note) = (user.clone(), f.note.clone());
    let result = db::run(&state.pool, move |conn| {
        transfer::act(conn, &u, &actor, id, f.version, action, &note)
    })
    .await;
    let to = format!("/admin/membership/transfers/{id}");
    match result {
        Ok(next) => Ok(redirect_flash(
            &to,
            "ok",
            &format!("已{}：{}", action.label(), next.label()),
        )),
        Err(AppError::Conflict(m)) => Ok(redirect_flash(&to, "error", &m)),
        Err(e) => {
            let errors = e.fields()?;
            let page = transfer_page(&state, ctx, user, id, errors, f.note).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}
