//! The working-day calendar page (administrators): the entered holidays and make-up working
//! days, a box to enter more (one line a day, or a pasted two-column file), and removal.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::calendar::{self, CalendarDay};
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::AdminUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/settings/calendar", web::get().to(show))
        .route("/admin/settings/calendar", web::post().to(add))
        .route(
            "/admin/settings/calendar/{day}/delete",
            web::post().to(remove),
        );
}

#[derive(Template)]
#[template(path = "admin/calendar.html")]
pub struct CalendarPage {
    ctx: Ctx,
    days: Vec<CalendarDay>,
    text: String,
    errors: Vec<String>,
}

async fn page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    text: String,
    errors: Vec<String>,
) -> AppResult<CalendarPage> {
    let days = db::run(&state.pool, calendar::all).await?;
    Ok(CalendarPage {
        ctx,
        days,
        text,
        errors,
    })
}

async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    AdminUser(_): AdminUser,
) -> AppResult<HttpResponse> {
    render(&page(&state, ctx, String::new(), Vec::new()).await?)
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    lines: String,
}

async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    AdminUser(user): AdminUser,
    Form(f): Form<AddForm>,
) -> AppResult<HttpResponse> {
    if f.lines.chars().count() > 20_000 {
        let errors = vec!["一次最多粘贴 20000 个字".to_string()];
        let p = page(&state, ctx, String::new(), errors).await?;
        return render_status(&p, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let days = match calendar::parse_lines(&f.lines) {
        Ok(d) if !d.is_empty() => d,
        Ok(_) => vec![],
        Err(errors) => {
            let p = page(&state, ctx, f.lines, errors).await?;
            return render_status(&p, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    if days.is_empty() {
        let errors = vec!["请至少填写一行，例如：2026-10-01,休,国庆节".to_string()];
        let p = page(&state, ctx, f.lines, errors).await?;
        return render_status(&p, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let n = db::run(&state.pool, move |conn| {
        calendar::set_days(conn, &actor, &days)
    })
    .await?;
    Ok(redirect_flash(
        "/admin/settings/calendar",
        "ok",
        &format!("已登记 {n} 天，之后计算的办理时限按新日历执行"),
    ))
}

async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    AdminUser(user): AdminUser,
    path: web::Path<String>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let day = chrono::NaiveDate::parse_from_str(&path.into_inner(), "%Y-%m-%d")
        .map_err(|_| AppError::NotFound)?;
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        calendar::remove_day(conn, &actor, day)
    })
    .await?;
    Ok(redirect_flash(
        "/admin/settings/calendar",
        "ok",
        &format!("已删除 {day}"),
    ))
}

#[derive(Deserialize)]
pub struct Empty {}
