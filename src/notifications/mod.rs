//! In-app notifications: state changes of my cases, new work in a cadre's inbox.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::csrf::Form;
use crate::auth::CurrentUser;
use crate::db::schema::notifications;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
pub use crate::outbox::Out;
use crate::state::AppState;
use crate::web::{redirect, redirect_flash, render, Ctx, Pager};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/notifications", web::get().to(list))
        .route("/notifications/read-all", web::post().to(read_all))
        .route("/notifications/{id}", web::get().to(open));
}

impl Notification {
    pub fn date(&self) -> String {
        crate::web::date_of(&self.created_at)
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub id: i32,
    pub public_ref: String,
    pub title: String,
    pub link: String,
    pub read: bool,
    pub created_at: NaiveDateTime,
}

/// Notify one member. Call inside the transaction of the change it reports: the in-app
/// notification and, unless `out` is `Never`, its outbox message (WeCom, WeChat, SMS, e-mail)
/// are written together, so a rolled-back change sends nothing. The message links to the
/// notification, which opens `link` once the member has signed in.
pub fn notify(
    conn: &mut DbConnection,
    member_id: i32,
    title: &str,
    link: &str,
    at: NaiveDateTime,
    out: Out,
) -> AppResult<()> {
    let public_ref = crate::auth::random_token(8);
    diesel::insert_into(notifications::table)
        .values((
            notifications::member_id.eq(member_id),
            notifications::title.eq(title),
            notifications::link.eq(link),
            notifications::read.eq(false),
            notifications::created_at.eq(at),
            notifications::public_ref.eq(&public_ref),
        ))
        .execute(conn)?;
    let opens = format!("/notifications/{public_ref}");
    crate::outbox::model::enqueue(conn, member_id, out, title, &opens, at)
}

pub fn unread_count(conn: &mut DbConnection, member_id: i32) -> AppResult<i64> {
    Ok(notifications::table
        .filter(notifications::member_id.eq(member_id))
        .filter(notifications::read.eq(false))
        .count()
        .get_result(conn)?)
}

#[derive(Template)]
#[template(path = "notifications/list.html")]
pub struct NotificationsPage {
    ctx: Ctx,
    rows: Vec<Notification>,
    pager: Pager,
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    q: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let page = q.page;
    let (rows, pager) = db::run(&state.pool, move |conn| {
        let total: i64 = notifications::table
            .filter(notifications::member_id.eq(user.id))
            .count()
            .get_result(conn)?;
        let pager = Pager::new(page, 20, total);
        let rows = notifications::table
            .filter(notifications::member_id.eq(user.id))
            // By time, then the random reference: an anonymous item (stamped with its day) is
            // never placed between named ones by a sequence.
            .order((
                notifications::created_at.desc(),
                notifications::public_ref.asc(),
            ))
            .limit(pager.per_page)
            .offset(pager.offset())
            .select(Notification::as_select())
            .load(conn)?;
        Ok((rows, pager))
    })
    .await?;
    render(&NotificationsPage { ctx, rows, pager })
}

/// Mark one read and follow its link (reached by its random reference, never its id).
async fn open(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let r = path.into_inner();
    let link = db::run(&state.pool, move |conn| {
        let (id, link): (i32, String) = notifications::table
            .filter(notifications::public_ref.eq(&r))
            .filter(notifications::member_id.eq(user.id))
            .select((notifications::id, notifications::link))
            .first(conn)
            .optional()?
            .ok_or(AppError::NotFound)?;
        diesel::update(notifications::table.find(id))
            .set(notifications::read.eq(true))
            .execute(conn)?;
        Ok(link)
    })
    .await?;
    Ok(redirect(&crate::web::safe_next(Some(&link))))
}

#[derive(serde::Deserialize)]
pub struct Empty {}

async fn read_all(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    db::run(&state.pool, move |conn| {
        diesel::update(
            notifications::table
                .filter(notifications::member_id.eq(user.id))
                .filter(notifications::read.eq(false)),
        )
        .set(notifications::read.eq(true))
        .execute(conn)?;
        Ok(())
    })
    .await?;
    Ok(redirect_flash("/notifications", "ok", "已全部标为已读"))
}
