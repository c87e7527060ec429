//! Reporting a comment (members) and the moderation queue (cadres).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::Comment;
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/comments/{id}/report", web::post().to(report))
        .route("/admin/comments", web::get().to(queue))
        .route("/admin/comments/{id}/hide", web::post().to(hide))
        .route("/admin/comments/{id}/restore", web::post().to(restore));
}

#[derive(Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    reason: String,
}

async fn report(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
    form: Form<ReportForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let owner = db::run(&state.pool, move |conn| {
        super::report(conn, &user, id, &form.0.reason, now)
    })
    .await?;
    Ok(redirect_flash(
        &owner.url(),
        "ok",
        "已举报，工会干部会尽快处理，谢谢",
    ))
}

#[derive(Template)]
#[template(path = "admin/comments/queue.html")]
pub struct QueuePage {
    ctx: Ctx,
    rows: Vec<Comment>,
}

async fn queue(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    let rows = db::run(&state.pool, move |conn| super::queue(conn, &user)).await?;
    render(&QueuePage { ctx, rows })
}

#[derive(Deserialize)]
pub struct Empty {}

async fn moderate(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: std::sync::Arc<crate::auth::User>,
    id: i32,
    hide: bool,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        super::moderate(conn, &user, &actor, id, hide)
    })
    .await?;
    Ok(redirect_flash(
        "/admin/comments",
        "ok",
        if hide {
            "评论已隐藏"
        } else {
            "评论已恢复显示"
        },
    ))
}

async fn hide(
    state: web::Data<AppState>,
    req: HttpRequest,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    _f: Form<Empty>,
) -> AppResult<HttpResponse> {
    moderate(state, req, user, path.into_inner(), true).await
}

async fn restore(
    state: web::Data<AppState>,
    req: HttpRequest,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    _f: Form<Empty>,
) -> AppResult<HttpResponse> {
    moderate(state, req, user, path.into_inner(), false).await
}
