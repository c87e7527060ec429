//! The cadres' membership pages besides applications and transfers: dues (import, who is
//! behind, XLSX), retirement or leaving for a member, and the retention period (admin).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::dues::{self, Arrear, DuesLine};
use crate::audit::{Actor, AuditAction};
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::upload::MultipartForm;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/membership/dues", web::get().to(dues_page))
        .route("/admin/membership/dues", web::post().to(dues_import))
        .route(
            "/admin/membership/dues/arrears.xlsx",
            web::get().to(arrears_xlsx),
        )
        .route("/admin/membership/retention", web::post().to(retention))
        .route(
            "/admin/membership/members/{id}/leave",
            web::get().to(leave_form),
        )
        .route(
            "/admin/membership/members/{id}/leave",
            web::post().to(leave),
        );
}

#[derive(Deserialize)]
pub struct DuesQuery {
    months: Option<u32>,
    page: Option<i64>,
}

fn months_of(q: Option<u32>) -> u32 {
    q.unwrap_or(3).clamp(1, 24)
}

#[derive(Template)]
#[template(path = "admin/membership/dues.html")]
struct DuesPage {
    ctx: Ctx,
    months: u32,
    arrears: Vec<Arrear>,
    pager: crate::forms::Pager,
    report: Vec<DuesLine>,
    error: String,
    years: u32,
    is_admin: bool,
}

impl DuesPage {
    fn query_base(&self) -> String {
        format!("months={}", self.months)
    }

    fn count(&self, outcome: &str) -> usize {
        self.report.iter().filter(|l| l.outcome == outcome).count()
    }
}

async fn page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: &std::sync::Arc<crate::auth::User>,
    (months, page): (u32, Option<i64>),
    report: Vec<DuesLine>,
    error: String,
) -> AppResult<DuesPage> {
    const PER_PAGE: i64 = 50;
    let now = state.config.clock.now();
    let u = user.clone();
    let ((total, arrears), years) = db::run(&state.pool, move |conn| {
        let offset = page
            .unwrap_or(1)
            .max(1)
            .saturating_sub(1)
            .saturating_mul(PER_PAGE);
        Ok((
            dues::arrears(conn, &u, months, now, (PER_PAGE, offset))?,
            super::leave::retention_years(conn)?,
        ))
    })
    .await?;
    let pager = crate::forms::Pager::new(page, PER_PAGE, total);
    Ok(DuesPage {
        ctx,
        months,
        arrears,
        pager,
        report,
        error,
        years,
        is_admin: user.is_admin,
    })
}

async fn dues_page(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<DuesQuery>,
) -> AppResult<HttpResponse> {
    render(
        &page(
            &state,
            ctx,
            &user,
            (months_of(q.months), q.page),
            Vec::new(),
            String::new(),
        )
        .await?,
    )
}

async fn dues_import(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    mut mp: MultipartForm,
) -> AppResult<HttpResponse> {
    let Some(file) = mp.files.pop() else {
        let msg = mp
            .file_errors
            .first()
            .cloned()
            .unwrap_or_else(|| "请选择会费文件（CSV 或 XLSX）".into());
        let p = page(&state, ctx, &user, (3, None), Vec::new(), msg).await?;
        return render_status(&p, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let u = user.clone();
    let result = db::run(&state.pool, move |conn| {
        let rows = crate::members::import::read_upload(&file.filename, &file.data)?;
        dues::import(conn, &u, &actor, &rows)
    })
    .await;
    match result {
        Ok(report) => render(&page(&state, ctx, &user, (3, None), report, String::new()).await?),
        Err(AppError::Validation(m)) => {
            let p = page(&state, ctx, &user, (3, None), Vec::new(), m).await?;
            render_status(&p, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e),
    }
}

async fn arrears_xlsx(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    q: web::Query<DuesQuery>,
) -> AppResult<HttpResponse> {
    let months = months_of(q.months);
    let now = state.config.clock.now();
    let actor = Actor::user(&user, client_ip(&req), now);
    let bytes = db::run(&state.pool, move |conn| {
        let (_, rows) = dues::arrears(conn, &user, months, now, (0, 0))?;
        let ids: Vec<i32> = rows.iter().map(|r| r.member_id).collect();
        crate::audit::record_export(
            conn,
            &actor,
            None,
            AuditAction::DuesExport,
            ("member_dues", None),
            &ids,
        )?;
        dues::arrears_xlsx(&rows, months)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"dues-arrears-{months}m.xlsx\""),
        ))
        .body(bytes))
}

#[derive(Deserialize)]
pub struct RetentionForm {
    #[serde(default)]
    years: String,
}

async fn retention(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    Form(f): Form<RetentionForm>,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let result = db::run(&state.pool, move |conn| {
        super::leave::set_retention(conn, &user, &actor, &f.years)
    })
    .await;
    match result {
        Ok(y) => Ok(redirect_flash(
            "/admin/membership/dues",
            "ok",
            &format!("退会会员的个人信息将保留 {y} 年"),
        )),
        Err(AppError::Fields(e)) => Ok(redirect_flash(
            "/admin/membership/dues",
            "error",
            e.get("years"),
        )),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "admin/membership/leave.html")]
struct LeavePage {
    ctx: Ctx,
    member_id: i32,
    member: String,
    status: super::Status,
}

async fn leave_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let m = db::run(&state.pool, move |conn| {
        crate::members::service::load_in_scope(conn, &user, id).map(|(m, _)| m)
    })
    .await?;
    render(&LeavePage {
        ctx,
        member_id: id,
        member: format!("{}（工号 {}）", m.name, m.employee_no),
        status: super::Status::parse(&m.status).unwrap_or(super::Status::Member),
    })
}

#[derive(Deserialize)]
pub struct LeaveForm {
    #[serde(default)]
    choice: String,
    #[serde(default)]
    note: String,
}

async fn leave(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(f): Form<LeaveForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let keep = match f.choice.as_str() {
        "keep" => true,
        "leave" => false,
        _ => return Err(AppError::Validation("请选择保留会籍或退会".into())),
    };
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let to = format!("/admin/members/{id}");
    let result = db::run(&state.pool, move |conn| {
        super::leave::retire_or_leave(conn, &user, &actor, id, keep, &f.note)
    })
    .await;
    match result {
        Ok(s) => Ok(redirect_flash(&to, "ok", &format!("已办理：{}", s.label()))),
        Err(AppError::Validation(m)) => Ok(redirect_flash(&to, "error", &m)),
        Err(AppError::Fields(e)) => Ok(redirect_flash(&to, "error", e.get("note"))),
        Err(e) => Err(e),
    }
}
