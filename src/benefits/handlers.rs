//! Member pages: what I can apply for (and why not), apply, follow, withdraw, supply more.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{self, BenefitEvent, BenefitItem, BenefitRequest};
use super::service::{self, ApplyForm};
use crate::attachments::AttachmentMeta;
use crate::auth::csrf::Form;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::upload::MultipartForm;
use crate::web::{redirect_flash, render, render_status, Ctx, FieldErrors};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/benefits", web::get().to(index))
        .route("/benefits/apply/{item}", web::get().to(apply_form))
        .route("/benefits/apply/{item}", web::post().to(apply))
        .route("/benefits/requests/{id}", web::get().to(show))
        .route("/benefits/requests/{id}/withdraw", web::post().to(withdraw))
        .route("/benefits/requests/{id}/resubmit", web::post().to(resubmit))
        .route(
            "/benefits/requests/{id}/attachments/{aid}",
            web::get().to(attachment),
        );
}

pub struct ItemCard {
    pub item: BenefitItem,
    pub reason: Option<String>,
}

#[derive(Template)]
#[template(path = "benefits/index.html")]
pub struct BenefitsPage {
    ctx: Ctx,
    available: Vec<ItemCard>,
    unavailable: Vec<ItemCard>,
    mine: Vec<(BenefitRequest, String)>,
}

async fn index(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let (cards, mine) = db::run(&state.pool, move |conn| {
        let items = model::items(conn)?;
        let mut cards = Vec::new();
        for item in items.iter().filter(|i| i.active) {
            let reason = service::unavailable_reason(conn, &user, item, now)?;
            cards.push(ItemCard {
                item: item.clone(),
                reason,
            });
        }
        let mine = model::requests_of(conn, user.id)?
            .into_iter()
            .map(|r| {
                let name = items
                    .iter()
                    .find(|i| i.id == r.item_id)
                    .map(|i| i.name.clone())
                    .unwrap_or_default();
                (r, name)
            })
            .collect();
        Ok((cards, mine))
    })
    .await?;
    let (available, unavailable) = cards.into_iter().partition(|c| c.reason.is_none());
    render(&BenefitsPage {
        ctx,
        available,
        unavailable,
        mine,
    })
}

#[derive(Template)]
#[template(path = "benefits/apply.html")]
pub struct ApplyPage {
    ctx: Ctx,
    item: BenefitItem,
    form: ApplyForm,
    errors: FieldErrors,
}

impl ApplyPage {
    fn value(&self, i: &usize) -> &str {
        self.form.values.get(*i).map_or("", |s| s.as_str())
    }
}

async fn apply_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let (item, reason) = db::run(&state.pool, move |conn| {
        let item = model::item(conn, id)?
            .filter(|i| i.active)
            .ok_or(AppError::NotFound)?;
        let reason = service::unavailable_reason(conn, &user, &item, now)?;
        Ok((item, reason))
    })
    .await?;
    if let Some(r) = reason {
        return Ok(redirect_flash(
            "/benefits",
            "error",
            &format!("{}：{r}", item.name),
        ));
    }
    let form = ApplyForm {
        submit_token: crate::auth::random_token(16),
        values: vec![String::new(); item.fields().len()],
        ..ApplyForm::default()
    };
    render(&ApplyPage {
        ctx,
        item,
        form,
        errors: FieldErrors::default(),
    })
}

async fn apply(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
    mp: MultipartForm,
) -> AppResult<HttpResponse> {
    crate::membership::require_services(&user)?;
    let item_id = path.into_inner();
    let now = state.config.clock.now();
    let item = db::run(&state.pool, move |conn| {
        model::item(conn, item_id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let form = ApplyForm {
        amount: mp.text("amount"),
        event: mp.text("event"),
        values: (0..item.fields().len())
            .map(|i| mp.text(&format!("field_{i}")))
            .collect(),
        submit_token: mp.text("submit_token"),
    };
    let mut errors = FieldErrors::default();
    let files = crate::attachments::case_files(mp, &mut errors, false).await?;
    if !errors.is_empty() {
        return render_status(
            &ApplyPage {
                ctx,
                item,
                form,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let f2 = form.clone();
    match db::run(&state.pool, move |conn| {
        service::apply(conn, &user, item_id, &f2, &files, now)
    })
    .await
    {
        Ok(id) => Ok(redirect_flash(
            &format!("/benefits/requests/{id}"),
            "ok",
            "申请已提交，审批进度会通知您",
        )),
        Err(e) => render_status(
            &ApplyPage {
                ctx,
                item,
                form,
                errors: e.fields()?,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

#[derive(Template)]
#[template(path = "benefits/show.html")]
pub struct RequestPage {
    ctx: Ctx,
    req: BenefitRequest,
    item: BenefitItem,
    events: Vec<BenefitEvent>,
    files: Vec<AttachmentMeta>,
    error: String,
}

async fn page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    id: i32,
    error: String,
) -> AppResult<RequestPage> {
    let (req, item, events, files) = db::run(&state.pool, move |conn| {
        let (req, item) = service::load_for_member(conn, &user, id)?;
        Ok((
            req,
            item,
            model::events(conn, id)?,
            crate::attachments::list(conn, ("benefit", id))?,
        ))
    })
    .await?;
    Ok(RequestPage {
        ctx,
        req,
        item,
        events,
        files,
        error,
    })
}

async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    render(&page(&state, ctx, user, path.into_inner(), String::new()).await?)
}

#[derive(Deserialize)]
pub struct Empty {}

async fn withdraw(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let u2 = user.clone();
    match db::run(&state.pool, move |conn| {
        service::withdraw(conn, &u2, id, now)
    })
    .await
    {
        Ok(()) => Ok(redirect_flash(
            &format!("/benefits/requests/{id}"),
            "ok",
            "申请已撤回",
        )),
        Err(AppError::Validation(m)) => render_status(
            &page(&state, ctx, user, id, m).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e),
    }
}

async fn resubmit(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
    mp: MultipartForm,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let note = mp.text("note");
    let mut errors = FieldErrors::default();
    let files = crate::attachments::case_files(mp, &mut errors, false).await?;
    if !errors.is_empty() {
        let msg = errors
            .0
            .iter()
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("；");
        return render_status(
            &page(&state, ctx, user, id, msg).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let u2 = user.clone();
    match db::run(&state.pool, move |conn| {
        service::resubmit(conn, &u2, id, &note, &files, now)
    })
    .await
    {
        Ok(()) => Ok(redirect_flash(
            &format!("/benefits/requests/{id}"),
            "ok",
            "补充材料已提交，重新进入审批",
        )),
        Err(AppError::Validation(m)) => render_status(
            &page(&state, ctx, user, id, m).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e),
    }
}

async fn attachment(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i32, i32)>,
) -> AppResult<HttpResponse> {
    let (id, aid) = path.into_inner();
    let (name, mime, data) = db::run(&state.pool, move |conn| {
        service::load_for_member(conn, &user, id)?;
        crate::attachments::data(conn, ("benefit", id), aid)?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(crate::attachments::response(&name, &mime, data))
}
