//! Member pages: my cases, file a case, follow it (or an anonymous one by receipt), reply, rate.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{self, Action, AttachmentMeta, Grievance, GrievanceEvent, CATEGORIES};
use super::service::{self, MemberAction, SubmitForm, Submitted};
use crate::auth::csrf::Form;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::org::OrgUnit;
use crate::state::AppState;
use crate::web::upload::MultipartForm;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx, FieldErrors};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/grievances", web::get().to(list))
        .route("/grievances/new", web::get().to(new_form))
        .route("/grievances/new", web::post().to(submit))
        .route("/grievances/track", web::get().to(track_form))
        .route("/grievances/track", web::post().to(track))
        .route("/grievances/track/act", web::post().to(track_act))
        .route(
            "/grievances/track/attachment",
            web::post().to(track_attachment),
        )
        .route("/grievances/{case}", web::get().to(show))
        .route("/grievances/{case}/act", web::post().to(act))
        .route(
            "/grievances/{case}/attachments/{aid}",
            web::get().to(attachment),
        );
}

#[derive(Template)]
#[template(path = "grievances/list.html")]
pub struct GrievanceListPage {
    ctx: Ctx,
    rows: Vec<Grievance>,
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    let rows = db::run(&state.pool, move |conn| model::for_member(conn, user.id)).await?;
    render(&GrievanceListPage { ctx, rows })
}

#[derive(Template)]
#[template(path = "grievances/new.html")]
pub struct GrievanceNewPage {
    ctx: Ctx,
    form: SubmitForm,
    errors: FieldErrors,
    units: Vec<OrgUnit>,
    categories: Vec<(&'static str, &'static str)>,
}

impl GrievanceNewPage {
    fn unit_selected(&self, id: &i32) -> bool {
        self.form.unit_id == id.to_string()
    }
}

async fn units(state: &web::Data<AppState>) -> AppResult<Vec<OrgUnit>> {
    db::run(&state.pool, |conn| {
        Ok(crate::org::model::all(conn)?
            .into_iter()
            .filter(|u| !u.disabled)
            .collect())
    })
    .await
}

async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    let form = SubmitForm {
        submit_token: crate::auth::random_token(16),
        unit_id: user.unit_id.to_string(),
        ..SubmitForm::default()
    };
    render(&GrievanceNewPage {
        ctx,
        form,
        errors: FieldErrors::default(),
        units: units(&state).await?,
        categories: CATEGORIES.to_vec(),
    })
}

#[derive(Template)]
#[template(path = "grievances/receipt.html")]
pub struct ReceiptPage {
    ctx: Ctx,
    /// None when the same form arrived twice: the code was shown the first time only.
    receipt: Option<String>,
}

async fn submit(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    mp: MultipartForm,
) -> AppResult<HttpResponse> {
    crate::membership::require_services(&user)?;
    let form = SubmitForm {
        category: mp.text("category"),
        title: mp.text("title"),
        description: mp.text("description"),
        desired_outcome: mp.text("desired_outcome"),
        anonymous: mp.text("anonymous") == "1",
        unit_id: mp.text("unit_id"),
        submit_token: mp.text("submit_token"),
    };
    let mut errors = form.check();
    let files = crate::attachments::case_files(mp, &mut errors, form.anonymous).await?;
    if !errors.is_empty() {
        let units = units(&state).await?;
        return render_status(
            &GrievanceNewPage {
                ctx,
                form,
                errors,
                units,
                categories: CATEGORIES.to_vec(),
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let now = state.config.clock.now();
    let f2 = form.clone();
    let outcome = db::run(&state.pool, move |conn| {
        service::submit(conn, &user, &f2, &files, now)
    })
    .await;
    match outcome {
        Ok(Submitted::Named(case_ref)) => Ok(redirect_flash(
            &format!("/grievances/{case_ref}"),
            "ok",
            "申诉已提交，工会将在 2 个工作日内受理",
        )),
        Ok(Submitted::Anonymous(receipt)) => render(&ReceiptPage {
            ctx,
            receipt: Some(service::format_receipt(&receipt)),
        }),
        Ok(Submitted::Duplicate {
            case_ref,
            anonymous: false,
        }) => Ok(redirect_flash(
            &format!("/grievances/{case_ref}"),
            "ok",
            "这份申诉已经提交过，没有重复创建",
        )),
        Ok(Submitted::Duplicate {
            anonymous: true, ..
        }) => render(&ReceiptPage { ctx, receipt: None }),
        Err(AppError::Validation(m)) => {
            let mut errors = FieldErrors::default();
            errors.add("unit_id", m);
            let units = units(&state).await?;
            render_status(
                &GrievanceNewPage {
                    ctx,
                    form,
                    errors,
                    units,
                    categories: CATEGORIES.to_vec(),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e),
    }
}

/// The case as its member (or receipt holder) sees it: no internal notes.
#[derive(Template)]
#[template(path = "grievances/show.html")]
pub struct GrievanceShowPage {
    ctx: Ctx,
    g: Grievance,
    events: Vec<GrievanceEvent>,
    files: Vec<AttachmentMeta>,
    /// Set on the anonymous follow-up page: forms carry it in a hidden field, never in a URL.
    receipt: Option<String>,
    notice: String,
    error: String,
    can_reopen: bool,
}

impl GrievanceShowPage {
    fn action_url(&self) -> String {
        match self.receipt {
            Some(_) => "/grievances/track/act".into(),
            None => format!("/grievances/{}/act", self.g.public_ref),
        }
    }
}

fn can_reopen(g: &Grievance, now: chrono::NaiveDateTime) -> bool {
    g.is_answered() && g.reopen_refusal(now).is_none()
}

async fn show_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    g: Grievance,
    receipt: Option<String>,
    notice: String,
    error: String,
) -> AppResult<GrievanceShowPage> {
    let id = g.id;
    let (events, files) = db::run(&state.pool, move |conn| {
        Ok((
            model::events(conn, id, false)?,
            model::attachments_of(conn, id)?,
        ))
    })
    .await?;
    let can_reopen = can_reopen(&g, state.config.clock.now());
    Ok(GrievanceShowPage {
        ctx,
        g,
        events,
        files,
        receipt,
        notice,
        error,
        can_reopen,
    })
}

async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let case_ref = path.into_inner();
    let g = db::run(&state.pool, move |conn| {
        service::load_for_member(conn, &user, &case_ref)
    })
    .await?;
    render(&show_page(&state, ctx, g, None, String::new(), String::new()).await?)
}

#[derive(Deserialize, Default)]
pub struct ActForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    rating: String,
    #[serde(default)]
    receipt: String,
}

fn done_message(action: &str) -> &'static str {
    match Action::parse(action) {
        Some(Action::Rate) => "评价已提交，谢谢您的反馈",
        Some(Action::Reopen) => "已申请重新办理，工会将继续处理",
        _ => "补充说明已发送",
    }
}

/// What the member's form asks for: a workflow action, or a reply (which changes no state).
fn member_action(f: &ActForm) -> AppResult<MemberAction> {
    if f.action == "reply" {
        return Ok(MemberAction::Reply {
            text: f.text.clone(),
        });
    }
    match Action::parse(&f.action) {
        Some(Action::Rate) => Ok(MemberAction::Rate {
            rating: f
                .rating
                .parse()
                .map_err(|_| AppError::Validation("请选择 1 到 5 星".into()))?,
            comment: f.text.clone(),
        }),
        Some(Action::Reopen) => Ok(MemberAction::Reopen {
            reason: f.text.clone(),
        }),
        _ => Err(AppError::Validation("未知的操作".into())),
    }
}

async fn act(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<String>,
    Form(f): Form<ActForm>,
) -> AppResult<HttpResponse> {
    let case_ref = path.into_inner();
    let now = state.config.clock.now();
    let u2 = user.clone();
    let r2 = case_ref.clone();
    let result = async {
        let action = member_action(&f)?;
        db::run(&state.pool, move |conn| {
            let g = service::load_for_member(conn, &u2, &r2)?;
            service::member_act(conn, &g, Some(&u2), action, now)
        })
        .await
    }
    .await;
    match result {
        Ok(()) => Ok(redirect_flash(
            &format!("/grievances/{case_ref}"),
            "ok",
            done_message(&f.action),
        )),
        Err(AppError::Validation(m)) => {
            let g = db::run(&state.pool, move |conn| {
                service::load_for_member(conn, &user, &case_ref)
            })
            .await?;
            render_status(
                &show_page(&state, ctx, g, None, String::new(), m).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e),
    }
}

async fn attachment(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(String, i32)>,
) -> AppResult<HttpResponse> {
    let (case_ref, aid) = path.into_inner();
    let (name, mime, data) = db::run(&state.pool, move |conn| {
        let g = service::load_for_member(conn, &user, &case_ref)?;
        model::attachment_data(conn, g.id, aid)?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(super::attachment_response(&name, &mime, data))
}

#[derive(Template)]
#[template(path = "grievances/track.html")]
pub struct TrackPage {
    ctx: Ctx,
    error: String,
}

async fn track_form(ctx: Ctx) -> AppResult<HttpResponse> {
    render(&TrackPage {
        ctx,
        error: String::new(),
    })
}

/// Wrong receipt codes per address: this feature's own runtime state, registered in `app.rs`.
pub struct TrackLimiter(pub crate::web::RateLimiter);

fn limiter(req: &HttpRequest) -> AppResult<&crate::web::RateLimiter> {
    req.app_data::<web::Data<TrackLimiter>>()
        .map(|l| &l.get_ref().0)
        .ok_or_else(|| AppError::Internal("receipt limiter not registered".into()))
}

/// Refuse when this address has tried too many wrong codes lately.
fn check_track_rate(req: &HttpRequest) -> AppResult<String> {
    let key = client_ip(req).unwrap_or_default();
    if limiter(req)?.blocked(&key) {
        return Err(AppError::TooManyRequests(
            "尝试次数过多，请 10 分钟后再试".into(),
        ));
    }
    Ok(key)
}

const UNKNOWN_RECEIPT: &str = "没有找到与该回执码对应的申诉，请核对后重试";

/// Open the case behind a receipt, counting failures against the address.
async fn by_receipt(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    receipt: &str,
) -> AppResult<Option<Grievance>> {
    let key = check_track_rate(req)?;
    let r = receipt.to_string();
    match db::run(&state.pool, move |conn| service::load_by_receipt(conn, &r)).await {
        Ok(g) => Ok(Some(g)),
        Err(AppError::NotFound) => {
            limiter(req)?.fail(&key);
            Ok(None)
        }
        Err(e) => Err(e),
    }
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
    match by_receipt(&state, &req, &f.receipt).await? {
        Some(g) => {
            let receipt = service::normalize_receipt(&f.receipt);
            render(&show_page(&state, ctx, g, Some(receipt), String::new(), String::new()).await?)
        }
        None => render_status(
            &TrackPage {
                ctx,
                error: UNKNOWN_RECEIPT.into(),
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

async fn track_act(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    Form(f): Form<ActForm>,
) -> AppResult<HttpResponse> {
    let Some(g) = by_receipt(&state, &req, &f.receipt).await? else {
        return render_status(
            &TrackPage {
                ctx,
                error: UNKNOWN_RECEIPT.into(),
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let receipt = service::normalize_receipt(&f.receipt);
    let now = state.config.clock.now();
    let result = async {
        let action = member_action(&f)?;
        let g2 = g.clone();
        db::run(&state.pool, move |conn| {
            service::member_act(conn, &g2, None, action, now)
        })
        .await
    }
    .await;
    let (notice, error, status) = match result {
        Ok(()) => (
            done_message(&f.action).to_string(),
            String::new(),
            StatusCode::OK,
        ),
        Err(AppError::Validation(m)) => (String::new(), m, StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => return Err(e),
    };
    let id = g.id;
    let g = db::run(&state.pool, move |conn| {
        model::find(conn, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    render_status(
        &show_page(&state, ctx, g, Some(receipt), notice, error).await?,
        status,
    )
}

#[derive(Deserialize)]
pub struct TrackAttachmentForm {
    #[serde(default)]
    receipt: String,
    #[serde(default)]
    attachment_id: i32,
}

async fn track_attachment(
    req: HttpRequest,
    state: web::Data<AppState>,
    Form(f): Form<TrackAttachmentForm>,
) -> AppResult<HttpResponse> {
    let Some(g) = by_receipt(&state, &req, &f.receipt).await? else {
        return Err(AppError::NotFound);
    };
    let (id, aid) = (g.id, f.attachment_id);
    let (name, mime, data) = db::run(&state.pool, move |conn| {
        model::attachment_data(conn, id, aid)?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(super::attachment_response(&name, &mime, data))
}
