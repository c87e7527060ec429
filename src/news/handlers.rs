//! Member pages: the news list and an article.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{self, Article, ArticleCard, Category};
use super::service;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::markdown::{self, SafeHtml};
use crate::web::redirect_flash;
use crate::web::{render, Ctx, Pager};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/news", web::get().to(list))
        .route("/news/{id}", web::get().to(show))
        .route("/news/{id}/comments", web::post().to(comment))
        .route("/news/{id}/images/{img}", web::get().to(image))
        .route("/news/{id}/images/{img}/thumb", web::get().to(image_thumb))
        .route("/news/{id}/files/{file}", web::get().to(file));
}

#[derive(Template)]
#[template(path = "news/list.html")]
pub struct NewsListPage {
    ctx: Ctx,
    rows: Vec<ArticleCard>,
    categories: Vec<Category>,
    category: Option<i32>,
    pager: Pager,
    query_base: String,
}

impl NewsListPage {
    fn is_cat(&self, id: &i32) -> bool {
        self.category == Some(*id)
    }
    fn cat_name(&self, id: &i32) -> &str {
        self.categories
            .iter()
            .find(|c| c.id == *id)
            .map_or("", |c| c.name.as_str())
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    category: Option<i32>,
    page: Option<i64>,
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    q: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let (category, page) = (q.category, q.page);
    let (rows, total, categories) = db::run(&state.pool, move |conn| {
        let slots = crate::org::scope::path_slots(&user);
        let offset = page
            .unwrap_or(1)
            .max(1)
            .saturating_sub(1)
            .saturating_mul(20);
        let (rows, total) = model::listing(conn, slots, now, category, 20, offset)?;
        Ok((rows, total, model::categories(conn)?))
    })
    .await?;
    let pager = Pager::new(page, 20, total);
    let query_base = category
        .map(|c| format!("category={c}"))
        .unwrap_or_default();
    render(&NewsListPage {
        ctx,
        rows,
        categories,
        category,
        pager,
        query_base,
    })
}

#[derive(Template)]
#[template(path = "news/show.html")]
pub struct ArticlePage {
    ctx: Ctx,
    a: Article,
    category: String,
    body: SafeHtml,
    files: Vec<crate::attachments::AttachmentMeta>,
    comments: Vec<crate::comments::Comment>,
    comment_action: String,
}

/// Whether the member opened the page themselves: a navigation from our own pages, a typed
/// address or a bookmark. A page of another site that links or embeds the article (a
/// cross-site GET) must not sign a mandatory notice's read receipt on the member's behalf.
fn opened_by_member(req: &actix_web::HttpRequest) -> bool {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    match header("sec-fetch-site") {
        Some(site) => matches!(site, "same-origin" | "none"),
        // Browsers without Fetch Metadata: judge by the Referer's host.
        None => header("referer").is_none_or(|r| {
            let host = req.connection_info().host().to_string();
            r.split("://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .is_some_and(|h| h == host)
        }),
    }
}

async fn show(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    views: web::Data<service::ViewCounter>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let receipt = opened_by_member(&req);
    let (mut a, categories, files, comments) = db::run(&state.pool, move |conn| {
        let a = if receipt {
            service::open(conn, &user, id, now)?
        } else {
            service::readable(conn, &user, id, now)?
        };
        let files = crate::attachments::list(conn, ("news", id))?;
        let comments = if a.comments_enabled {
            crate::comments::thread(conn, crate::comments::Owner::News(id))?
        } else {
            Vec::new()
        };
        Ok((a, model::categories(conn)?, files, comments))
    })
    .await?;
    views.hit(a.id);
    a.view_count = a.view_count.saturating_add(views.pending(a.id));
    let category = categories
        .iter()
        .find(|c| c.id == a.category_id)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let body = markdown::render(&a.body_md);
    render(&ArticlePage {
        comment_action: format!("/news/{id}/comments"),
        ctx,
        a,
        category,
        body,
        files,
        comments,
    })
}

#[derive(Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    body: String,
}

async fn comment(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    track: crate::engagement::Track,
    path: web::Path<i32>,
    form: crate::auth::csrf::Form<CommentForm>,
) -> AppResult<HttpResponse> {
    use crate::comments::Owner;
    let id = path.into_inner();
    let now = state.config.clock.now();
    let body = form.0.body;
    let done = db::run(&state.pool, move |conn| {
        let a = service::readable(conn, &user, id, now)?;
        if !a.comments_enabled {
            return Err(AppError::Validation("这篇资讯未开放评论".into()));
        }
        crate::comments::add(conn, &user, Owner::News(id), &body, now)
    })
    .await;
    if done.is_ok() {
        track.record(("news", Some(id)), "reply");
    }
    match done {
        Ok(_) => Ok(redirect_flash(&Owner::News(id).url(), "ok", "评论已发表")),
        Err(AppError::Validation(m)) => Ok(redirect_flash(&Owner::News(id).url(), "error", &m)),
        Err(e) => Err(e),
    }
}

async fn image_bytes(
    state: web::Data<AppState>,
    user: std::sync::Arc<crate::auth::User>,
    (id, img): (i32, i32),
    thumb: bool,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let data = db::run(&state.pool, move |conn| {
        service::may_see_files(conn, &user, id, now)?;
        crate::images::model::bytes(conn, ("news", id), img, thumb)?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(crate::images::response(data))
}

async fn image(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i32, i32)>,
) -> AppResult<HttpResponse> {
    image_bytes(state, user, path.into_inner(), false).await
}

async fn image_thumb(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i32, i32)>,
) -> AppResult<HttpResponse> {
    image_bytes(state, user, path.into_inner(), true).await
}

async fn file(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i32, i32)>,
) -> AppResult<HttpResponse> {
    let (id, fid) = path.into_inner();
    let now = state.config.clock.now();
    let (name, mime, data) = db::run(&state.pool, move |conn| {
        service::may_see_files(conn, &user, id, now)?;
        crate::attachments::data(conn, ("news", id), fid)?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(crate::attachments::response(&name, &mime, data))
}
