//! Cadre pages: articles in scope, the Markdown editor with preview, read receipts of
//! mandatory notices and the unread list export.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::model::{self, Article, Category};
use super::service::{self, ArticleForm};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::db;
use crate::error::AppResult;
use crate::org::{scope, OrgUnit};
use crate::web::markdown::{self, SafeHtml};
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx, FieldErrors};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/news", web::get().to(list))
        .route("/admin/news/new", web::get().to(new_form))
        .route("/admin/news/new", web::post().to(create))
        .route("/admin/news/{id}", web::get().to(edit_form))
        .route("/admin/news/{id}", web::post().to(update))
        .route("/admin/news/{id}/reads", web::get().to(reads))
        .route("/admin/news/{id}/unread.xlsx", web::get().to(unread_xlsx));
}

#[derive(Template)]
#[template(path = "admin/news/list.html")]
pub struct AdminNewsPage {
    ctx: Ctx,
    rows: Vec<Article>,
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    let rows = db::run(&state.pool, move |conn| {
        let ids = scope::managed_unit_ids(conn, &user)?;
        model::for_units(conn, ids.as_deref(), 200)
    })
    .await?;
    render(&AdminNewsPage { ctx, rows })
}

#[derive(Template)]
#[template(path = "admin/news/form.html")]
pub struct NewsFormPage {
    ctx: Ctx,
    id: Option<i32>,
    form: ArticleForm,
    audience: Vec<i32>,
    units: Vec<OrgUnit>,
    categories: Vec<Category>,
    errors: FieldErrors,
    preview: Option<SafeHtml>,
}

impl NewsFormPage {
    fn in_audience(&self, id: &i32) -> bool {
        self.audience.contains(id)
    }
    fn is_cat(&self, id: &i32) -> bool {
        self.form.category_id == id.to_string()
    }
}

async fn page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    id: Option<i32>,
    posted: Option<(ArticleForm, Vec<i32>)>,
    errors: FieldErrors,
    preview: Option<SafeHtml>,
) -> AppResult<NewsFormPage> {
    let (units, categories, loaded) = db::run(&state.pool, move |conn| {
        let units = scope::managed_units(conn, &user)?;
        let loaded = match id {
            Some(id) => {
                let a = service::load_for_staff(conn, &user, id)?;
                Some((a.clone(), model::audience(conn, a.id)?))
            }
            None => None,
        };
        Ok((units, model::categories(conn)?, loaded))
    })
    .await?;
    let (form, audience) = match (posted, loaded) {
        (Some((f, aud)), _) => (f, aud),
        (None, Some((a, aud))) => (
            ArticleForm {
                title: a.title.clone(),
                category_id: a.category_id.to_string(),
                summary: a.summary.clone(),
                body: a.body_md.clone(),
                pinned: if a.pinned { "1".into() } else { String::new() },
                mandatory: if a.mandatory {
                    "1".into()
                } else {
                    String::new()
                },
                draft: if a.draft { "1".into() } else { String::new() },
                publish_at: crate::web::beijing(&a.publish_at, "%Y-%m-%dT%H:%M"),
                action: String::new(),
            },
            aud,
        ),
        (None, None) => (
            ArticleForm::default(),
            units.first().map(|u| vec![u.id]).unwrap_or_default(),
        ),
    };
    Ok(NewsFormPage {
        ctx,
        id,
        form,
        audience,
        units,
        categories,
        errors,
        preview,
    })
}

async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    render(&page(&state, ctx, user, None, None, FieldErrors::default(), None).await?)
}

async fn edit_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    render(
        &page(
            &state,
            ctx,
            user,
            Some(path.into_inner()),
            None,
            FieldErrors::default(),
            None,
        )
        .await?,
    )
}

/// Split the posted pairs into the article form and the audience unit ids (repeated field).
fn parse(pairs: Vec<(String, String)>) -> (ArticleForm, Vec<i32>) {
    let audience = pairs
        .iter()
        .filter(|(k, _)| k == "audience")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    (
        ArticleForm {
            title: get("title"),
            category_id: get("category_id"),
            summary: get("summary"),
            body: get("body"),
            pinned: get("pinned"),
            mandatory: get("mandatory"),
            draft: get("draft"),
            publish_at: get("publish_at"),
            action: get("action"),
        },
        audience,
    )
}

async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    id: Option<i32>,
    pairs: Vec<(String, String)>,
) -> AppResult<HttpResponse> {
    let (form, audience) = parse(pairs);
    if form.action == "preview" {
        let preview = Some(markdown::render(&form.body));
        return render(
            &page(
                &state,
                ctx,
                user,
                id,
                Some((form, audience)),
                FieldErrors::default(),
                preview,
            )
            .await?,
        );
    }
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let (u2, f2, a2) = (user.clone(), form.clone(), audience.clone());
    match db::run(&state.pool, move |conn| {
        service::save(conn, &u2, &actor, id, &f2, &a2)
    })
    .await?
    {
        Ok(id) => Ok(redirect_flash(&format!("/admin/news/{id}"), "ok", "已保存")),
        Err(errors) => render_status(
            &page(&state, ctx, user, id, Some((form, audience)), errors, None).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    save(req, state, ctx, user, None, pairs).await
}

async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    save(req, state, ctx, user, Some(path.into_inner()), pairs).await
}

#[derive(Template)]
#[template(path = "admin/news/reads.html")]
pub struct ReadsPage {
    ctx: Ctx,
    a: Article,
    per_unit: Vec<(String, i64, i64)>,
    unread: Vec<(String, String, String)>,
}

async fn reads(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let (a, (per_unit, unread)) = db::run(&state.pool, move |conn| {
        let a = service::load_for_staff(conn, &user, id)?;
        let stats = service::read_stats(conn, &a)?;
        Ok((a, stats))
    })
    .await?;
    render(&ReadsPage {
        ctx,
        a,
        per_unit,
        unread,
    })
}

async fn unread_xlsx(
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let bytes = db::run(&state.pool, move |conn| {
        let a = service::load_for_staff(conn, &user, id)?;
        let (_, unread) = service::read_stats(conn, &a)?;
        service::unread_xlsx(&a.title, &unread)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"unread-{id}.xlsx\""),
        ))
        .body(bytes))
}
