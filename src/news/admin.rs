//! Cadre pages: articles in scope, the Markdown editor with preview, read receipts of
//! mandatory notices and the unread list export.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::model::{self, Article, Category};
use super::service::{self, ArticleForm};
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::{AdminUser, StaffUser};
use crate::db;
use crate::error::AppResult;
use crate::org::{scope, OrgUnit};
use crate::state::AppState;
use crate::web::markdown::{self, SafeHtml};
use crate::web::upload::MultipartForm;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx, FieldErrors};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/news", web::get().to(list))
        .route("/admin/news/categories", web::get().to(categories))
        .route("/admin/news/categories", web::post().to(add_category))
        .route("/admin/news/categories/{id}", web::post().to(edit_category))
        .route("/admin/news/new", web::get().to(new_form))
        .route("/admin/news/new", web::post().to(create))
        .route("/admin/news/{id}", web::get().to(edit_form))
        .route("/admin/news/{id}", web::post().to(update))
        .route("/admin/news/{id}/files", web::post().to(upload_files))
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
    cover: Option<i32>,
    files: Vec<crate::attachments::AttachmentMeta>,
    file_errors: FieldErrors,
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
    let (units, categories, loaded, files) = db::run(&state.pool, move |conn| {
        let units = scope::managed_units(conn, &user)?;
        let (loaded, files) = match id {
            Some(id) => {
                let a = service::load_for_staff(conn, &user, id)?;
                let files = crate::attachments::list(conn, ("news", id))?;
                (Some((a.clone(), model::audience(conn, a.id)?)), files)
            }
            None => (None, Vec::new()),
        };
        Ok((units, model::categories(conn)?, loaded, files))
    })
    .await?;
    let cover = loaded.as_ref().and_then(|(a, _)| a.cover_image_id);
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
                comments: if a.comments_enabled {
                    "1".into()
                } else {
                    String::new()
                },
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
        cover,
        files,
        file_errors: FieldErrors::default(),
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
            comments: get("comments"),
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
    .await
    {
        Ok(id) => Ok(redirect_flash(&format!("/admin/news/{id}"), "ok", "已保存")),
        Err(e) => render_status(
            &page(
                &state,
                ctx,
                user,
                id,
                Some((form, audience)),
                e.fields()?,
                None,
            )
            .await?,
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
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let bytes = db::run(&state.pool, move |conn| {
        let a = service::load_for_staff(conn, &user, id)?;
        let (_, unread) = service::read_stats(conn, &a)?;
        let mut members = Vec::with_capacity(unread.len());
        for (_, employee_no, _) in &unread {
            if let Some(m) = crate::members::model::find_by_employee_no(conn, employee_no)? {
                members.push(m.id);
            }
        }
        crate::db::write_tx(conn, |conn| {
            crate::audit::record_export(
                conn,
                &actor,
                Some(a.unit_id),
                crate::audit::AuditAction::NewsExportUnread,
                ("news", Some(id)),
                &members,
            )
        })?;
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

/// The cover image and attachments form (multipart, separate from the Markdown editor).
async fn upload_files(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    mut mp: MultipartForm,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let mut errors = FieldErrors::default();
    // The cover is the file sent in the "cover" input; everything else is an attachment.
    let cover_upload = mp.file_fields.iter().position(|f| f == "cover").map(|i| {
        mp.file_fields.remove(i);
        mp.files.remove(i)
    });
    let files = mp.typed_files(&mut errors);
    let mut cover = None;
    if let Some(up) = cover_upload {
        match crate::images::process(up.filename, up.data).await? {
            Ok(p) => cover = Some(p),
            Err(m) => errors.add("cover", m),
        }
    }
    if errors.is_empty() && cover.is_none() && files.is_empty() {
        errors.add("files", "请选择封面图片或附件");
    }
    if !errors.is_empty() {
        let mut p = page(
            &state,
            ctx,
            user,
            Some(id),
            None,
            FieldErrors::default(),
            None,
        )
        .await?;
        p.file_errors = errors;
        return render_status(&p, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        service::add_files(conn, &user, &actor, id, cover.as_ref(), &files)
    })
    .await?;
    Ok(redirect_flash(
        &format!("/admin/news/{id}"),
        "ok",
        "封面和附件已保存",
    ))
}

#[derive(Template)]
#[template(path = "admin/news/categories.html")]
pub struct CategoriesPage {
    ctx: Ctx,
    rows: Vec<(Category, i32)>,
}

async fn categories(
    state: web::Data<AppState>,
    ctx: Ctx,
    AdminUser(_): AdminUser,
) -> AppResult<HttpResponse> {
    let rows = db::run(&state.pool, |conn| {
        let orders = model::category_orders(conn)?;
        Ok(model::categories(conn)?
            .into_iter()
            .map(|c| {
                let o = orders.iter().find(|(id, _)| *id == c.id).map_or(0, |x| x.1);
                (c, o)
            })
            .collect())
    })
    .await?;
    render(&CategoriesPage { ctx, rows })
}

#[derive(serde::Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    sort_order: String,
}

async fn save_category(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: std::sync::Arc<crate::auth::User>,
    id: Option<i32>,
    form: CategoryForm,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let back = "/admin/news/categories";
    match db::run(&state.pool, move |conn| {
        service::save_category(conn, &actor, id, &form.name, &form.sort_order)
    })
    .await
    {
        Ok(()) => Ok(redirect_flash(back, "ok", "栏目已保存")),
        Err(crate::error::AppError::Validation(m)) => Ok(redirect_flash(back, "error", &m)),
        Err(e) => Err(e),
    }
}

async fn add_category(
    req: HttpRequest,
    state: web::Data<AppState>,
    AdminUser(user): AdminUser,
    Form(form): Form<CategoryForm>,
) -> AppResult<HttpResponse> {
    save_category(req, state, user, None, form).await
}

async fn edit_category(
    req: HttpRequest,
    state: web::Data<AppState>,
    AdminUser(user): AdminUser,
    path: web::Path<i32>,
    Form(form): Form<CategoryForm>,
) -> AppResult<HttpResponse> {
    save_category(req, state, user, Some(path.into_inner()), form).await
}
