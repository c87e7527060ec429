//! Member pages: the gallery, my posts, posting, a post with likes and comments, photos.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{self, Post, CATEGORIES};
use super::service::{self, PostForm, MAX_PHOTOS};
use crate::auth::csrf::Form;
use crate::auth::CurrentUser;
use crate::comments::{self, Comment, Owner};
use crate::db;
use crate::error::{AppError, AppResult};
use crate::images::{self, model::ImageMeta};
use crate::state::AppState;
use crate::web::upload::MultipartForm;
use crate::web::{redirect_flash, render, render_status, Ctx, FieldErrors, Pager};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/showcase", web::get().to(list))
        .route("/showcase/mine", web::get().to(mine))
        .route("/showcase/new", web::get().to(new_form))
        .route("/showcase/new", web::post().to(submit))
        .route("/showcase/{id}", web::get().to(show))
        .route("/showcase/{id}/like", web::post().to(like))
        .route("/showcase/{id}/comments", web::post().to(comment))
        .route("/showcase/{id}/photos/{img}", web::get().to(photo))
        .route("/showcase/{id}/photos/{img}/thumb", web::get().to(thumb));
}

const PER_PAGE: i64 = 12;

#[derive(Template)]
#[template(path = "showcase/list.html")]
pub struct ListPage {
    ctx: Ctx,
    rows: Vec<Post>,
    categories: [&'static str; 4],
    category: String,
    pager: Pager,
    query_base: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    category: String,
    page: Option<i64>,
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(_): CurrentUser,
    q: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let category = CATEGORIES
        .iter()
        .find(|c| **c == q.category)
        .map(|c| c.to_string())
        .unwrap_or_default();
    let page = q.page;
    let c2 = category.clone();
    let (rows, total) = db::run(&state.pool, move |conn| {
        let offset = page
            .unwrap_or(1)
            .max(1)
            .saturating_sub(1)
            .saturating_mul(PER_PAGE);
        let cat = (!c2.is_empty()).then_some(c2.as_str());
        model::approved(conn, cat, None, PER_PAGE, offset)
    })
    .await?;
    let query_base = if category.is_empty() {
        String::new()
    } else {
        format!("category={}", crate::web::url_encode(&category))
    };
    render(&ListPage {
        ctx,
        rows,
        categories: CATEGORIES,
        pager: Pager::new(page, PER_PAGE, total),
        category,
        query_base,
    })
}

#[derive(Template)]
#[template(path = "showcase/mine.html")]
pub struct MinePage {
    ctx: Ctx,
    rows: Vec<Post>,
}

async fn mine(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    let rows = db::run(&state.pool, move |conn| model::by_member(conn, user.id)).await?;
    render(&MinePage { ctx, rows })
}

#[derive(Template)]
#[template(path = "showcase/new.html")]
pub struct NewPage {
    ctx: Ctx,
    form: PostForm,
    errors: FieldErrors,
    categories: [&'static str; 4],
    max_photos: usize,
}

async fn new_form(ctx: Ctx, CurrentUser(_): CurrentUser) -> AppResult<HttpResponse> {
    render(&NewPage {
        ctx,
        form: PostForm::default(),
        errors: FieldErrors::default(),
        categories: CATEGORIES,
        max_photos: MAX_PHOTOS,
    })
}

async fn submit(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    mp: MultipartForm,
) -> AppResult<HttpResponse> {
    crate::membership::require_services(&user)?;
    let form = PostForm {
        category: mp.text("category"),
        title: mp.text("title"),
        story: mp.text("story"),
    };
    let mut errors = FieldErrors::default();
    for e in &mp.file_errors {
        errors.add("photos", e.clone());
    }
    form.check(mp.files.len(), &mut errors);
    let mut photos = Vec::new();
    if errors.is_empty() {
        for f in mp.files {
            match images::process(f.filename, f.data).await? {
                Ok(p) => photos.push(p),
                Err(msg) => errors.add("photos", msg),
            }
        }
    }
    if !errors.is_empty() {
        return render_status(
            &NewPage {
                ctx,
                form,
                errors,
                categories: CATEGORIES,
                max_photos: MAX_PHOTOS,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let now = state.config.clock.now();
    let id = db::run(&state.pool, move |conn| {
        service::submit(conn, &user, &form, &photos, now)
    })
    .await?;
    Ok(redirect_flash(
        &format!("/showcase/{id}"),
        "ok",
        "投稿已提交，工会审核通过后大家就能看到",
    ))
}

#[derive(Template)]
#[template(path = "showcase/show.html")]
pub struct ShowPage {
    ctx: Ctx,
    p: Post,
    photos: Vec<ImageMeta>,
    liked: bool,
    comments: Vec<Comment>,
    comment_action: String,
}

async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let (p, photos, liked, comments) = db::run(&state.pool, move |conn| {
        let p = service::open(conn, &user, id)?;
        let photos = images::model::list(conn, ("showcase", id))?;
        let liked = model::liked(conn, id, user.id)?;
        let comments = if p.is_approved() {
            comments::thread(conn, Owner::Showcase(id))?
        } else {
            Vec::new()
        };
        Ok((p, photos, liked, comments))
    })
    .await?;
    render(&ShowPage {
        comment_action: format!("/showcase/{}/comments", p.id),
        ctx,
        p,
        photos,
        liked,
        comments,
    })
}

#[derive(Deserialize)]
pub struct Empty {}

async fn like(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    track: crate::engagement::Track,
    path: web::Path<i32>,
    _f: Form<Empty>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let liked = db::run(&state.pool, move |conn| service::like(conn, &user, id, now)).await?;
    if liked {
        track.record(("showcase", Some(id)), "like");
    }
    Ok(redirect_flash(
        &format!("/showcase/{id}"),
        "ok",
        if liked {
            "已点赞"
        } else {
            "已取消点赞"
        },
    ))
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
    form: Form<CommentForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let body = form.0.body;
    let done = db::run(&state.pool, move |conn| {
        service::comment(conn, &user, id, &body, now)
    })
    .await;
    if done.is_ok() {
        track.record(("showcase", Some(id)), "reply");
    }
    match done {
        Ok(()) => Ok(redirect_flash(
            &Owner::Showcase(id).url(),
            "ok",
            "评论已发表",
        )),
        Err(AppError::Validation(m)) => Ok(redirect_flash(&Owner::Showcase(id).url(), "error", &m)),
        Err(e) => Err(e),
    }
}

async fn photo_bytes(
    state: web::Data<AppState>,
    user: std::sync::Arc<crate::auth::User>,
    id: i32,
    img: i32,
    thumb: bool,
) -> AppResult<HttpResponse> {
    let data = db::run(&state.pool, move |conn| {
        service::open(conn, &user, id)?;
        images::model::bytes(conn, ("showcase", id), img, thumb)?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(images::response(data))
}

async fn photo(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i32, i32)>,
) -> AppResult<HttpResponse> {
    let (id, img) = path.into_inner();
    photo_bytes(state, user, id, img, false).await
}

async fn thumb(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i32, i32)>,
) -> AppResult<HttpResponse> {
    let (id, img) = path.into_inner();
    photo_bytes(state, user, id, img, true).await
}
