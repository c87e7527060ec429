//! Pages of 主席信箱: write (`/mailbox`), my letters and their answers, an anonymous letter by
//! its receipt (`/mailbox/track`), published letters (`/mailbox/public`); the chair's side
//! (`/admin/mailbox`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{EventRow, Letter, Step, WriteForm};
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx, FieldErrors};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/mailbox", web::get().to(home))
        .route("/mailbox", web::post().to(write))
        .route("/mailbox/track", web::post().to(track))
        .route("/mailbox/public", web::get().to(public))
        .route("/mailbox/{id}", web::get().to(mine_one))
        .route("/admin/mailbox", web::get().to(admin_list))
        .route("/admin/mailbox/{id}", web::get().to(admin_show))
        .route("/admin/mailbox/{id}", web::post().to(admin_act));
}

#[derive(Template)]
#[template(path = "mailbox/home.html")]
struct HomePage {
    ctx: Ctx,
    to: Vec<crate::org::OrgUnit>,
    form: WriteForm,
    errors: FieldErrors,
    mine: Vec<Letter>,
}

async fn home_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    form: WriteForm,
    errors: FieldErrors,
) -> AppResult<HomePage> {
    let (to, mine) = db::run(&state.pool, move |conn| {
        Ok((super::addressees(conn, &user)?, super::mine(conn, &user)?))
    })
    .await?;
    Ok(HomePage {
        ctx,
        to,
        form,
        errors,
        mine,
    })
}

async fn home(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    render(
        &home_page(
            &state,
            ctx,
            user,
            WriteForm::default(),
            FieldErrors::default(),
        )
        .await?,
    )
}

#[derive(Template)]
#[template(path = "mailbox/sent.html")]
struct SentPage {
    ctx: Ctx,
    receipt: String,
}

async fn write(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    Form(f): Form<WriteForm>,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let (u, form) = (user.clone(), f.clone());
    match db::run(&state.pool, move |conn| super::write(conn, &u, &form, now)).await {
        Ok((_, Some(receipt))) => render(&SentPage {
            ctx,
            receipt: crate::grievances::service::format_receipt(&receipt),
        }),
        Ok((r, None)) => Ok(redirect_flash(
            &format!("/mailbox/{r}"),
            "ok",
            "来信已送达，主席答复后会通知您",
        )),
        Err(e) => {
            let errors = e.fields()?;
            let page = home_page(&state, ctx, user, f, errors).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Template)]
#[template(path = "mailbox/letter.html")]
struct LetterPage {
    ctx: Ctx,
    l: Letter,
    events: Vec<EventRow>,
}

impl LetterPage {
    fn day(&self, t: &chrono::NaiveDateTime) -> String {
        crate::time::beijing(t, "%Y-%m-%d")
    }
    fn what(&self, s: &Option<String>) -> &str {
        s.as_deref()
            .and_then(super::State::parse)
            .map_or("", super::State::label)
    }
}

async fn mine_one(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let r = path.into_inner();
    let (l, events) = db::run(&state.pool, move |conn| {
        let l = super::find(conn, &r)?
            .filter(|l| l.member_id == Some(user.id))
            .ok_or(AppError::NotFound)?;
        let e = super::events(conn, l.id)?;
        Ok((l, e))
    })
    .await?;
    render(&LetterPage { ctx, l, events })
}

#[derive(Deserialize)]
pub struct TrackForm {
    #[serde(default)]
    receipt: String,
}

async fn track(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    Form(f): Form<TrackForm>,
) -> AppResult<HttpResponse> {
    // Wrong receipts count against the address with the grievance receipts' limiter.
    let limiter = req
        .app_data::<web::Data<crate::grievances::handlers::TrackLimiter>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("receipt limiter not registered".into()))?;
    let key = client_ip(&req).unwrap_or_default();
    if limiter.0.blocked(&key) {
        return Err(AppError::TooManyRequests(
            "尝试次数过多，请 10 分钟后再试".into(),
        ));
    }
    let r = f.receipt.clone();
    match db::run(&state.pool, move |conn| {
        let l = super::by_receipt(conn, &r)?;
        let e = super::events(conn, l.id)?;
        Ok((l, e))
    })
    .await
    {
        Ok((l, events)) => render(&LetterPage { ctx, l, events }),
        Err(AppError::NotFound) => {
            limiter.0.fail(&key);
            Ok(redirect_flash(
                "/mailbox",
                "error",
                "没有找到与该回执码对应的来信，请核对后重试",
            ))
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "mailbox/public.html")]
struct PublicPage {
    ctx: Ctx,
    letters: Vec<Letter>,
}

async fn public(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(_): CurrentUser,
) -> AppResult<HttpResponse> {
    let letters = db::run(&state.pool, super::published).await?;
    render(&PublicPage { ctx, letters })
}

#[derive(Template)]
#[template(path = "mailbox/admin_list.html")]
struct AdminList {
    ctx: Ctx,
    letters: Vec<Letter>,
    pager: crate::forms::Pager,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

async fn admin_list(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let page = q.page;
    let (letters, pager) = db::run(&state.pool, move |conn| {
        let total = super::count_for_staff(conn, &user)?;
        let pager = crate::forms::Pager::new(page, 30, total);
        Ok((super::for_staff(conn, &user, &pager)?, pager))
    })
    .await?;
    render(&AdminList {
        ctx,
        letters,
        pager,
    })
}

#[derive(Template)]
#[template(path = "mailbox/admin_show.html")]
struct AdminShow {
    ctx: Ctx,
    l: Letter,
    writer: String,
    events: Vec<EventRow>,
    cadres: Vec<(i32, String)>,
    errors: FieldErrors,
}

impl AdminShow {
    fn day(&self, t: &chrono::NaiveDateTime) -> String {
        crate::time::beijing(t, "%Y-%m-%d")
    }
    fn what(&self, s: &Option<String>) -> &str {
        s.as_deref()
            .and_then(super::State::parse)
            .map_or("", super::State::label)
    }
}

async fn admin_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    r: String,
    errors: FieldErrors,
) -> AppResult<AdminShow> {
    db::run(&state.pool, move |conn| {
        let l = super::find(conn, &r)?
            .filter(|l| super::handles(&user, l))
            .ok_or(AppError::NotFound)?;
        let writer = match l.member_id {
            Some(m) => crate::members::model::find(conn, m)?
                .map(|m| format!("{}（工号 {}）", m.name, m.employee_no))
                .unwrap_or_default(),
            None => "匿名会员".into(),
        };
        let unit = crate::org::model::find(conn, l.unit_id)?.ok_or(AppError::NotFound)?;
        // Cadres and chairs of that union and its branches.
        let units: Vec<i32> =
            crate::org::model::under_paths(conn, std::slice::from_ref(&unit.path))?
                .into_iter()
                .map(|u| u.id)
                .collect();
        let cadres = crate::members::model::cadres_at(conn, &units)?;
        let events = super::events(conn, l.id)?;
        Ok(AdminShow {
            ctx,
            l,
            writer,
            events,
            cadres,
            errors,
        })
    })
    .await
}

async fn admin_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let page = admin_page(&state, ctx, user, path.into_inner(), FieldErrors::default()).await?;
    // A named letter names its writer: reading it is audited and listed on the writer's
    // /me/privacy. An anonymous letter is linked to nobody, so its reading is not recorded.
    if let (false, Some(writer)) = (page.l.anonymous, page.l.member_id) {
        let (r, unit) = (page.l.public_ref.clone(), page.l.unit_id);
        db::run(&state.pool, move |conn| {
            crate::audit::record_view(
                conn,
                &actor,
                Some(unit),
                crate::audit::AuditAction::MailboxView,
                ("mailbox_letter", r.as_str()),
                Some(writer),
            )
        })
        .await?;
    }
    render(&page)
}

#[derive(Deserialize)]
pub struct ActForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    cadre: String,
}

async fn admin_act(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<String>,
    Form(f): Form<ActForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let step = match f.action.as_str() {
        "answer" => Step::Answer(f.answer.clone()),
        "forward" => Step::Forward(
            f.cadre
                .trim()
                .parse()
                .map_err(|_| AppError::field("cadre", "请选择转交的干部"))?,
        ),
        "convert" => Step::Convert,
        "suggest" => Step::Suggest,
        "publish" => Step::Publish(true),
        "unpublish" => Step::Publish(false),
        _ => return Err(AppError::Validation("未知的操作".into())),
    };
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let u = user.clone();
    let r = id.clone();
    let result = db::run(&state.pool, move |conn| {
        super::act(conn, &u, &actor, &r, f.version, &step)
    })
    .await;
    let to = format!("/admin/mailbox/{id}");
    match result {
        Ok(()) => Ok(redirect_flash(&to, "ok", "已办理")),
        Err(AppError::Conflict(m) | AppError::Validation(m)) => {
            Ok(redirect_flash(&to, "error", &m))
        }
        Err(e) => {
            let errors = e.fields()?;
            let page = admin_page(&state, ctx, user, id, errors).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}
