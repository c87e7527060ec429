//! Cadre pages: the review queue (approve / reject with a reason) and featuring posts.

use super::model::PostStatus;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::Post;
use super::service;
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/showcase", web::get().to(queue))
        .route("/admin/showcase/{id}/decide", web::post().to(decide))
        .route("/admin/showcase/{id}/feature", web::post().to(feature));
}

#[derive(Template)]
#[template(path = "admin/showcase/queue.html")]
pub struct QueuePage {
    ctx: Ctx,
    status: PostStatus,
    rows: Vec<Post>,
}

#[derive(Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    status: String,
}

async fn queue(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<QueueQuery>,
) -> AppResult<HttpResponse> {
    let status = PostStatus::parse(&q.status).unwrap_or(PostStatus::Pending);
    let rows = db::run(&state.pool, move |conn| service::queue(conn, &user, status)).await?;
    render(&QueuePage { ctx, status, rows })
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    version: i32,
}

async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    form: Form<DecideForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let f = form.0;
    let approve = f.action == "approve";
    let result = db::run(&state.pool, move |conn| {
        service::decide(conn, &user, &actor, id, f.version, approve, &f.reason)
    })
    .await;
    match result {
        Ok(()) => Ok(redirect_flash(
            "/admin/showcase",
            "ok",
            if approve {
                "已通过，投稿已发布"
            } else {
                "已退回，作者会收到原因"
            },
        )),
        Err(AppError::Validation(m)) | Err(AppError::Conflict(m)) => {
            Ok(redirect_flash("/admin/showcase", "error", &m))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct FeatureForm {
    #[serde(default)]
    on: String,
    #[serde(default)]
    version: i32,
}

async fn feature(
    state: web::Data<AppState>,
    req: HttpRequest,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    form: Form<FeatureForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let on = form.0.on == "1";
    let version = form.0.version;
    let back = "/admin/showcase?status=approved";
    match db::run(&state.pool, move |conn| {
        service::feature(conn, &user, &actor, id, version, on)
    })
    .await
    {
        Ok(()) => Ok(redirect_flash(
            back,
            "ok",
            if on {
                "已设为首页精选"
            } else {
                "已取消首页精选"
            },
        )),
        Err(AppError::Conflict(m)) => Ok(redirect_flash(back, "error", &m)),
        Err(e) => Err(e),
    }
}
