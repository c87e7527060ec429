//! Pages of 入会: the public application (`/join`), its progress (`/join/status`), and the
//! cadres' review (`/admin/membership`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::join::{self, Action, JoinForm, State};
use super::model::{Application, TimelineRow};
use crate::audit::{Actor, AuditAction};
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::org::{scope, OrgUnit};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx, FieldErrors};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/join", web::get().to(join_form))
        .route("/join", web::post().to(join_submit))
        .route("/join/status", web::get().to(status_form))
        .route("/join/status", web::post().to(status))
        .route("/join/status/resubmit", web::post().to(resubmit))
        .route("/admin/membership", web::get().to(overview))
        .route("/admin/membership/applications/{id}", web::get().to(show))
        .route(
            "/admin/membership/applications/{id}",
            web::post().to(decide),
        );
}

/// Wrong progress codes per address: this feature's own runtime state, registered in `app.rs`.
pub struct JoinLimiter(pub crate::web::RateLimiter);

#[derive(Template)]
#[template(path = "membership/join.html")]
struct JoinPage {
    ctx: Ctx,
    form: JoinForm,
    errors: FieldErrors,
    units: Vec<OrgUnit>,
}

impl JoinPage {
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

async fn join_form(state: web::Data<AppState>, ctx: Ctx) -> AppResult<HttpResponse> {
    render(&JoinPage {
        ctx,
        form: JoinForm::default(),
        errors: FieldErrors::default(),
        units: units(&state).await?,
    })
}

#[derive(Template)]
#[template(path = "membership/joined.html")]
struct JoinedPage {
    ctx: Ctx,
    name: String,
    phone: String,
    code: String,
}

async fn join_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    Form(form): Form<JoinForm>,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let address = client_ip(&req).unwrap_or_default();
    // Refusals count against the address like wrong progress codes. A duplicate is no refusal:
    // it is accepted like any other application, so the form tells nobody who is a member.
    let limiter = req
        .app_data::<web::Data<JoinLimiter>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("join limiter not registered".into()))?;
    if limiter.0.blocked(&address) {
        return Err(AppError::TooManyRequests(
            "尝试次数过多，请 10 分钟后再试".into(),
        ));
    }
    let secret = state.config.secret_key.clone();
    let result = match form.parse() {
        Ok(input) => {
            let (i, a) = (input.clone(), address.clone());
            let r = db::run(&state.pool, move |conn| {
                join::apply(conn, &i, &a, &secret, now)
            })
            .await;
            if matches!(r, Err(AppError::Fields(_))) {
                limiter.0.fail(&address);
            }
            r.map(|r| (r, input))
        }
        Err(e) => Err(AppError::Fields(e)),
    };
    match result {
        Ok(((_, code), input)) => render(&JoinedPage {
            ctx,
            name: input.name,
            phone: input.phone,
            code: crate::grievances::service::format_receipt(&code),
        }),
        Err(e) => {
            let errors = e.fields()?;
            let page = JoinPage {
                ctx,
                form,
                errors,
                units: units(&state).await?,
            };
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Template)]
#[template(path = "membership/status_form.html")]
struct StatusFormPage {
    ctx: Ctx,
    phone: String,
    error: String,
}

async fn status_form(ctx: Ctx) -> AppResult<HttpResponse> {
    render(&StatusFormPage {
        ctx,
        phone: String::new(),
        error: String::new(),
    })
}

#[derive(Deserialize)]
pub struct StatusQuery {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    statement: String,
}

#[derive(Template)]
#[template(path = "membership/status.html")]
struct StatusPage {
    ctx: Ctx,
    app: Application,
    timeline: Vec<TimelineRow>,
    phone: String,
    code: String,
    error: String,
    notice: String,
}

const UNKNOWN: &str = "没有找到对应的入会申请，请核对手机号和查询码";

/// The application behind phone + code, counting failures against the address.
async fn by_code(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    q: &StatusQuery,
) -> AppResult<Option<(Application, Vec<TimelineRow>)>> {
    let limiter = req
        .app_data::<web::Data<JoinLimiter>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("join limiter not registered".into()))?;
    let key = client_ip(req).unwrap_or_default();
    if limiter.0.blocked(&key) {
        return Err(AppError::TooManyRequests(
            "尝试次数过多，请 10 分钟后再试".into(),
        ));
    }
    let (phone, code) = (q.phone.clone(), q.code.clone());
    let found = db::run(&state.pool, move |conn| {
        let app = join::find_by_code(conn, &phone, &code)?;
        let timeline = super::model::application_timeline(conn, app.id)?;
        Ok((app, timeline))
    })
    .await;
    match found {
        Ok(x) => Ok(Some(x)),
        Err(AppError::NotFound) => {
            limiter.0.fail(&key);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

async fn status(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    Form(q): Form<StatusQuery>,
) -> AppResult<HttpResponse> {
    match by_code(&state, &req, &q).await? {
        Some((app, timeline)) => render(&StatusPage {
            ctx,
            app,
            timeline,
            phone: q.phone,
            code: q.code,
            error: String::new(),
            notice: String::new(),
        }),
        None => render_status(
            &StatusFormPage {
                ctx,
                phone: q.phone,
                error: UNKNOWN.into(),
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

async fn resubmit(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    Form(q): Form<StatusQuery>,
) -> AppResult<HttpResponse> {
    let Some((app, _)) = by_code(&state, &req, &q).await? else {
        return render_status(
            &StatusFormPage {
                ctx,
                phone: q.phone,
                error: UNKNOWN.into(),
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let now = state.config.clock.now();
    let (a, statement) = (app.clone(), q.statement.clone());
    let result = db::run(&state.pool, move |conn| {
        join::resubmit(conn, &a, &statement, now)
    })
    .await;
    let (notice, error, status) = match result {
        Ok(()) => (
            "已重新提交，请等待分会审核".to_string(),
            String::new(),
            StatusCode::OK,
        ),
        Err(AppError::Fields(e)) => (
            String::new(),
            e.get("statement").to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(AppError::Conflict(m)) => (String::new(), m, StatusCode::CONFLICT),
        Err(e) => return Err(e),
    };
    let Some((app, timeline)) = by_code(&state, &req, &q).await? else {
        return Err(AppError::NotFound);
    };
    render_status(
        &StatusPage {
            ctx,
            app,
            timeline,
            phone: q.phone,
            code: q.code,
            error,
            notice,
        },
        status,
    )
}

// --- the cadres' side ---------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/membership/overview.html")]
struct OverviewPage {
    ctx: Ctx,
    applications: Vec<(Application, String)>,
    transfers: Vec<super::transfer_pages::TransferRow>,
    done: bool,
}

#[derive(Deserialize)]
pub struct OverviewQuery {
    #[serde(default)]
    done: String,
}

async fn overview(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<OverviewQuery>,
) -> AppResult<HttpResponse> {
    let done = q.done == "1";
    let u = user.clone();
    let (applications, transfers) = db::run(&state.pool, move |conn| {
        let prefixes = scope::manage_prefixes(&u);
        let states: &[State] = if done {
            &[State::Approved, State::Rejected]
        } else {
            &[State::Submitted, State::Reviewed, State::Returned]
        };
        let apps = super::model::applications_in(conn, prefixes.as_deref(), states)?;
        let transfers = super::transfer_pages::rows_for(conn, &u, done)?;
        Ok((apps, transfers))
    })
    .await?;
    render(&OverviewPage {
        ctx,
        applications,
        transfers,
        done,
    })
}

#[derive(Template)]
#[template(path = "admin/membership/application.html")]
struct ApplicationPage {
    ctx: Ctx,
    app: Application,
    unit: OrgUnit,
    timeline: Vec<TimelineRow>,
    /// What the application repeats (an account, another live application): /join says
    /// nothing of it, so the reviewer rejects it here.
    duplicates: Vec<&'static str>,
    actions: Vec<Action>,
    errors: FieldErrors,
    reason: String,
}

async fn application_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    id: i32,
    errors: FieldErrors,
    reason: String,
) -> AppResult<ApplicationPage> {
    let u = user.clone();
    let (app, unit, timeline, duplicates) = db::run(&state.pool, move |conn| {
        let (app, unit) = join::load_for(conn, &u, id)?;
        let timeline = super::model::application_timeline(conn, id)?;
        let duplicates = join::duplicates(conn, &u, &app)?;
        Ok((app, unit, timeline, duplicates))
    })
    .await?;
    let actions = Action::ALL
        .iter()
        .copied()
        .filter(|a| join::may_act(&user, app.state, *a, &unit.path))
        .collect();
    Ok(ApplicationPage {
        ctx,
        app,
        unit,
        timeline,
        duplicates,
        actions,
        errors,
        reason,
    })
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let page = application_page(
        &state,
        ctx,
        user,
        path.into_inner(),
        FieldErrors::default(),
        String::new(),
    )
    .await?;
    // The applicant's data was shown: audited, and on their /me/privacy once they are a member.
    let a = &page.app;
    let (id, unit, member) = (a.id.to_string(), a.unit_id, a.member_id);
    db::run(&state.pool, move |conn| {
        crate::audit::record_view(
            conn,
            &actor,
            Some(unit),
            AuditAction::MembershipView,
            ("membership_application", id.as_str()),
            member,
        )
    })
    .await?;
    render(&page)
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    reason: String,
}

#[derive(Template)]
#[template(path = "admin/membership/approved.html")]
struct ApprovedPage {
    ctx: Ctx,
    member_id: i32,
    name: String,
    employee_no: String,
    password: String,
}

async fn decide(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(f): Form<DecideForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let action =
        Action::parse(&f.action).ok_or_else(|| AppError::Validation("未知的操作".into()))?;
    let now = state.config.clock.now();
    let actor = Actor::user(&user, client_ip(&req), now);
    // The initial password is made (and hashed) only for an approval, and only for someone
    // who could approve anything at all (hashing is costly).
    if action == Action::Approve
        && !user.is_admin
        && !user.roles.iter().any(|r| r.role == crate::org::Role::Chair)
    {
        return Err(AppError::Forbidden);
    }
    let password = (action == Action::Approve).then(|| crate::auth::random_token(7));
    let hash = match &password {
        Some(p) => state.hasher.hash(p.clone()).await?,
        None => String::new(),
    };
    let (u, reason) = (user.clone(), f.reason.clone());
    let result = db::run(&state.pool, move |conn| {
        join::decide(conn, &u, &actor, id, f.version, action, &reason, &hash)
    })
    .await;
    match result {
        Ok(Some(member_id)) => {
            let m = db::run(&state.pool, move |conn| {
                crate::members::model::find(conn, member_id)?.ok_or(AppError::NotFound)
            })
            .await?;
            render(&ApprovedPage {
                ctx,
                member_id,
                name: m.name,
                employee_no: m.employee_no,
                password: password.unwrap_or_default(),
            })
        }
        Ok(None) => Ok(redirect_flash(
            &format!("/admin/membership/applications/{id}"),
            "ok",
            &format!("已{}", action.label()),
        )),
        Err(AppError::Conflict(m) | AppError::Validation(m)) => Ok(redirect_flash(
            &format!("/admin/membership/applications/{id}"),
            "error",
            &m,
        )),
        Err(e) => {
            let errors = e.fields()?;
            let page = application_page(&state, ctx, user, id, errors, f.reason).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}
