//! Cadre pages: activities in scope, the editor, the attendance list with manual check-in and
//! ratings, the venue screen with the rotating QR code, and the XLSX export.

use super::model::SignupStatus;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::model::{self, Activity, Attendee, KINDS};
use super::service::{self, ActivityForm};
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::org::{scope, OrgUnit};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx, FieldErrors};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/activities", web::get().to(list))
        .route("/admin/activities/new", web::get().to(new_form))
        .route("/admin/activities/new", web::post().to(create))
        .route("/admin/activities/{id}", web::get().to(detail))
        .route("/admin/activities/{id}/edit", web::get().to(edit_form))
        .route("/admin/activities/{id}/edit", web::post().to(update))
        .route(
            "/admin/activities/{id}/checkin/{signup}",
            web::post().to(manual_checkin),
        )
        .route("/admin/activities/{id}/venue", web::get().to(venue))
        .route(
            "/admin/activities/{id}/attendance.xlsx",
            web::get().to(xlsx),
        );
}

#[derive(Template)]
#[template(path = "admin/activities/list.html")]
pub struct ListPage {
    ctx: Ctx,
    rows: Vec<Activity>,
    now: chrono::NaiveDateTime,
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let rows = db::run(&state.pool, move |conn| {
        let ids = scope::managed_unit_ids(conn, &user)?;
        model::for_units(conn, ids.as_deref(), 300)
    })
    .await?;
    render(&ListPage { ctx, rows, now })
}

#[derive(Template)]
#[template(path = "admin/activities/form.html")]
pub struct FormPage {
    pub ctx: Ctx,
    pub id: Option<i32>,
    pub form: ActivityForm,
    pub audience: Vec<i32>,
    pub units: Vec<OrgUnit>,
    pub kinds: [&'static str; 6],
    pub errors: FieldErrors,
    /// The sign-up forecast, when the cadre asked for one.
    pub forecast: Option<crate::forecast::service::ForecastView>,
}

impl FormPage {
    fn in_audience(&self, id: &i32) -> bool {
        self.audience.contains(id)
    }
}

async fn page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    id: Option<i32>,
    posted: Option<(ActivityForm, Vec<i32>)>,
    errors: FieldErrors,
) -> AppResult<FormPage> {
    let (units, loaded) = db::run(&state.pool, move |conn| {
        let units = scope::managed_units(conn, &user)?;
        let loaded = match id {
            Some(id) => {
                let a = service::load_for_staff(conn, &user, id)?;
                let aud = model::audience(conn, id)?;
                Some((a, aud))
            }
            None => None,
        };
        Ok((units, loaded))
    })
    .await?;
    let (form, audience) = match (posted, loaded) {
        (Some(p), _) => p,
        (None, Some((a, aud))) => (
            ActivityForm {
                title: a.title.clone(),
                kind: a.kind.clone(),
                description: a.description.clone(),
                place: a.place.clone(),
                starts_at: service::to_local(&a.starts_at),
                ends_at: service::to_local(&a.ends_at),
                capacity: a.capacity.to_string(),
                signup_opens_at: service::to_local(&a.signup_opens_at),
                signup_closes_at: service::to_local(&a.signup_closes_at),
                extra_fields: a.extra_fields.clone(),
                draft: if a.published {
                    String::new()
                } else {
                    "1".into()
                },
            },
            aud,
        ),
        (None, None) => (
            ActivityForm {
                kind: KINDS[0].into(),
                capacity: "50".into(),
                ..Default::default()
            },
            units.first().map(|u| vec![u.id]).unwrap_or_default(),
        ),
    };
    Ok(FormPage {
        ctx,
        id,
        form,
        audience,
        units,
        kinds: KINDS,
        errors,
        forecast: None,
    })
}

async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    render(&page(&state, ctx, user, None, None, FieldErrors::default()).await?)
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
        )
        .await?,
    )
}

fn parse(pairs: Vec<(String, String)>) -> (ActivityForm, Vec<i32>) {
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
        ActivityForm {
            title: get("title"),
            kind: get("kind"),
            description: get("description"),
            place: get("place"),
            starts_at: get("starts_at"),
            ends_at: get("ends_at"),
            capacity: get("capacity"),
            signup_opens_at: get("signup_opens_at"),
            signup_closes_at: get("signup_closes_at"),
            extra_fields: get("extra_fields"),
            draft: get("draft"),
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
    let action = pairs
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let (form, audience) = parse(pairs);
    if action == "forecast" || action == "retrain" {
        let model = req
            .app_data::<web::Data<crate::forecast::service::ForecastState>>()
            .cloned()
            .ok_or_else(|| AppError::Internal("forecast state not registered".into()))?;
        let retrain = action == "retrain";
        return forecast(&state, &model, ctx, user, id, form, audience, retrain).await;
    }
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let (u2, f2, a2) = (user.clone(), form.clone(), audience.clone());
    match db::run(&state.pool, move |conn| {
        service::save(conn, &u2, &actor, id, &f2, &a2)
    })
    .await
    {
        Ok(id) => Ok(redirect_flash(
            &format!("/admin/activities/{id}"),
            "ok",
            "活动已保存",
        )),
        Err(e) => render_status(
            &page(&state, ctx, user, id, Some((form, audience)), e.fields()?).await?,
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
#[template(path = "admin/activities/detail.html")]
pub struct DetailPage {
    ctx: Ctx,
    a: Activity,
    rows: Vec<Attendee>,
    now: chrono::NaiveDateTime,
    rating: (f64, i64),
    checked_in: usize,
    waiting: usize,
}

impl DetailPage {
    fn no_shows(&self) -> usize {
        if !self.a.ended(&self.now) {
            return 0;
        }
        self.rows
            .iter()
            .filter(|r| r.signup.status == SignupStatus::Confirmed && !r.signup.checked_in())
            .count()
    }
}

async fn detail(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let (a, rows, rating) = db::run(&state.pool, move |conn| {
        let a = service::load_for_staff(conn, &user, id)?;
        Ok((
            a,
            model::attendees(conn, id)?,
            model::rating_summary(conn, id)?,
        ))
    })
    .await?;
    let checked_in = rows.iter().filter(|r| r.signup.checked_in()).count();
    let waiting = rows
        .iter()
        .filter(|r| r.signup.status == SignupStatus::Waitlisted)
        .count();
    render(&DetailPage {
        ctx,
        a,
        rows,
        now,
        rating,
        checked_in,
        waiting,
    })
}

async fn manual_checkin(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<(i32, i32)>,
    _f: Form<super::handlers::Empty>,
) -> AppResult<HttpResponse> {
    let (id, signup) = path.into_inner();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let back = format!("/admin/activities/{id}");
    match db::run(&state.pool, move |conn| {
        service::check_in_by_hand(conn, &user, &actor, id, signup)
    })
    .await
    {
        Ok(()) => Ok(redirect_flash(&back, "ok", "已签到")),
        Err(AppError::Conflict(m)) => Ok(redirect_flash(&back, "error", &m)),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "admin/activities/venue.html")]
pub struct VenuePage {
    ctx: Ctx,
    a: Activity,
    /// The QR code as one SVG path ("M x y h1 v1 h-1 z" per dark module) and its side length.
    qr_path: String,
    qr_side: usize,
    url: String,
    checked_in: usize,
    confirmed: i32,
}

/// The venue screen: a QR code for the current 30-second window. The page reloads itself every
/// 10 seconds (meta refresh, no script), so the code shown is never more than 10 s behind.
async fn venue(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let (a, rows) = db::run(&state.pool, move |conn| {
        let a = service::load_for_staff(conn, &user, id)?;
        Ok((a, model::attendees(conn, id)?))
    })
    .await?;
    let token = service::checkin_token(&state.config.secret_key, &a, service::window_of(now));
    let url = state
        .config
        .absolute(&format!("/activities/{id}/checkin?t={token}"));
    let (qr_path, side) = crate::web::qr_path(&url)?;
    let checked_in = rows.iter().filter(|r| r.signup.checked_in()).count();
    let confirmed = a.confirmed_count;
    let page = VenuePage {
        ctx,
        a,
        qr_path,
        qr_side: side.saturating_add(8),
        url,
        checked_in,
        confirmed,
    };
    let mut resp = render(&page)?;
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

async fn xlsx(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let actor = Actor::user(&user, client_ip(&req), now);
    let bytes = db::run(&state.pool, move |conn| {
        let a = service::load_for_staff(conn, &user, id)?;
        let rows = model::attendees(conn, id)?;
        let members: Vec<i32> = rows.iter().map(|r| r.signup.member_id).collect();
        crate::db::write_tx(conn, |conn| {
            crate::audit::record_export(
                conn,
                &actor,
                Some(a.unit_id),
                crate::audit::AuditAction::ActivityExport,
                ("activity", Some(id)),
                &members,
            )
        })?;
        service::attendance_xlsx(&a, &rows, now)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"attendance-{id}.xlsx\""),
        ))
        .body(bytes))
}

/// Re-show the form with a forecast for what is filled in (nothing is saved).
#[allow(clippy::too_many_arguments)]
async fn forecast(
    state: &web::Data<AppState>,
    model: &web::Data<crate::forecast::service::ForecastState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    id: Option<i32>,
    form: ActivityForm,
    audience: Vec<i32>,
    retrain: bool,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let mut errors = FieldErrors::default();
    let parsed = service::check_form(&form, now, &mut errors);
    if audience.is_empty() {
        errors.add("audience", "请选择参加范围");
    }
    let mut page = page(
        state,
        ctx,
        user.clone(),
        id,
        Some((form.clone(), audience.clone())),
        FieldErrors::default(),
    )
    .await?;
    let Some((starts, _ends, opens, closes, capacity)) = parsed.filter(|_| errors.is_empty())
    else {
        page.errors = errors;
        return render_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let st = model.clone();
    let view = db::run(&state.pool, move |conn| {
        // Only the cadre's own units count as an audience.
        let managed: Vec<i32> = scope::managed_units(conn, &user)?
            .iter()
            .map(|u| u.id)
            .collect();
        let audience: Vec<i32> = audience
            .into_iter()
            .filter(|u| managed.contains(u))
            .collect();
        if audience.is_empty() {
            // Units outside the cadre's scope only: no audience to forecast for.
            return Err(AppError::Validation("请选择参加范围".into()));
        }
        let publisher = audience
            .first()
            .and_then(|u| crate::org::model::find(conn, *u).ok().flatten())
            .map_or(0, |u| crate::forecast::history::company_of(&u.path));
        let plan = crate::forecast::Plan {
            kind: form.kind.clone(),
            publisher,
            starts_at: starts,
            window_days: closes.signed_duration_since(opens).num_minutes() as f64 / 1440.0,
            capacity,
        };
        crate::forecast::service::forecast(conn, &st, &audience, &managed, &plan, now, retrain)
    })
    .await?;
    page.forecast = Some(view);
    render(&page)
}
