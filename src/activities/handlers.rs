//! Member pages: upcoming and my activities, an activity with sign-up / cancel / rating, and
//! the check-in page the venue QR code opens.

use super::model::SignupStatus;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{self, Activity, Signup};
use super::service::{self, SignedUp};
use crate::auth::csrf::Form;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{redirect_flash, render, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/activities", web::get().to(list))
        .route("/activities/{id}", web::get().to(show))
        .route("/activities/{id}/signup", web::post().to(sign_up))
        .route("/activities/{id}/cancel", web::post().to(cancel))
        .route("/activities/{id}/rate", web::post().to(rate))
        .route("/activities/{id}/checkin", web::get().to(checkin_page))
        .route("/activities/{id}/checkin", web::post().to(checkin));
}

#[derive(Template)]
#[template(path = "activities/list.html")]
pub struct ListPage {
    ctx: Ctx,
    tab: String,
    upcoming: Vec<(Activity, Option<Signup>)>,
    mine: Vec<(Signup, Activity)>,
    past: Vec<Activity>,
    now: chrono::NaiveDateTime,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    tab: String,
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    q: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let tab = if q.tab == "mine" || q.tab == "past" {
        q.tab.clone()
    } else {
        "upcoming".into()
    };
    let t2 = tab.clone();
    let (upcoming, mine, past) = db::run(&state.pool, move |conn| {
        let anc = crate::org::scope::ancestors(&user);
        let mine = model::mine(conn, user.id)?;
        let upcoming = if t2 == "upcoming" {
            model::visible(conn, &anc, now, true, None, 100)?
                .into_iter()
                .map(|a| {
                    let s = mine
                        .iter()
                        .find(|(s, _)| s.activity_id == a.id)
                        .map(|(s, _)| s.clone());
                    (a, s)
                })
                .collect()
        } else {
            Vec::new()
        };
        let past = if t2 == "past" {
            model::visible(conn, &anc, now, false, None, 50)?
        } else {
            Vec::new()
        };
        Ok((upcoming, mine, past))
    })
    .await?;
    render(&ListPage {
        ctx,
        tab,
        upcoming,
        mine,
        past,
        now,
    })
}

#[derive(Template)]
#[template(path = "activities/show.html")]
pub struct ShowPage {
    ctx: Ctx,
    a: Activity,
    signup: Option<Signup>,
    place: i64,
    now: chrono::NaiveDateTime,
    rating: (f64, i64),
}

async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let (a, signup, place, rating) = db::run(&state.pool, move |conn| {
        let a = service::readable(conn, &user, id)?;
        let signup =
            model::signup_of(conn, id, user.id)?.filter(|s| s.status != SignupStatus::Cancelled);
        let place = match &signup {
            Some(s) if s.status == SignupStatus::Waitlisted => {
                service::my_place(conn, id, s.position)?
            }
            _ => 0,
        };
        Ok((a, signup, place, model::rating_summary(conn, id)?))
    })
    .await?;
    render(&ShowPage {
        ctx,
        a,
        signup,
        place,
        now,
        rating,
    })
}

async fn sign_up(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    track: crate::engagement::Track,
    path: web::Path<i32>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    crate::membership::require_services(&user)?;
    let id = path.into_inner();
    let now = state.config.clock.now();
    let answers: Vec<(String, String)> = pairs
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix("field:").map(|f| (f.to_string(), v)))
        .collect();
    let back = format!("/activities/{id}");
    let done = db::run(&state.pool, move |conn| {
        service::sign_up(conn, &user, id, &answers, now)
    })
    .await;
    if matches!(done, Ok(SignedUp::Confirmed) | Ok(SignedUp::Waitlisted(_))) {
        track.record(("activity", Some(id)), "signup");
    }
    match done {
        Ok(SignedUp::Confirmed) => Ok(redirect_flash(
            &back,
            "ok",
            "报名成功！活动当天请扫描现场二维码签到",
        )),
        Ok(SignedUp::Waitlisted(n)) => Ok(redirect_flash(
            &back,
            "ok",
            &format!("名额已满，您已进入候补第 {n} 位；有人取消时会自动递补并通知您"),
        )),
        Ok(SignedUp::Already) => Ok(redirect_flash(&back, "ok", "您已经报过名了")),
        Err(AppError::Validation(m)) => Ok(redirect_flash(&back, "error", &m)),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

async fn cancel(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    track: crate::engagement::Track,
    path: web::Path<i32>,
    _f: Form<Empty>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let back = format!("/activities/{id}");
    let done = db::run(&state.pool, move |conn| {
        service::cancel(conn, &user, id, now)
    })
    .await;
    if done.is_ok() {
        track.record(("activity", Some(id)), "cancel");
    }
    match done {
        Ok(_) => Ok(redirect_flash(&back, "ok", "已取消报名")),
        Err(AppError::Validation(m)) | Err(AppError::Conflict(m)) => {
            Ok(redirect_flash(&back, "error", &m))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct RateForm {
    #[serde(default)]
    rating: String,
    #[serde(default)]
    comment: String,
}

async fn rate(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
    Form(f): Form<RateForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let back = format!("/activities/{id}");
    let rating = f.rating.parse().unwrap_or(0);
    match db::run(&state.pool, move |conn| {
        service::rate(conn, &user, id, rating, &f.comment, now)
    })
    .await
    {
        Ok(()) => Ok(redirect_flash(&back, "ok", "感谢您的评价")),
        Err(AppError::Validation(m)) => Ok(redirect_flash(&back, "error", &m)),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "activities/checkin.html")]
pub struct CheckinPage {
    ctx: Ctx,
    a: Activity,
    token: String,
}

#[derive(Deserialize)]
pub struct CheckinQuery {
    #[serde(default)]
    t: String,
}

/// What the QR code opens: a confirmation page (a GET never changes anything).
async fn checkin_page(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
    q: web::Query<CheckinQuery>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let a = db::run(&state.pool, move |conn| service::readable(conn, &user, id)).await?;
    let token: String =
        q.t.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .take(40)
            .collect();
    render(&CheckinPage { ctx, a, token })
}

#[derive(Deserialize)]
pub struct CheckinForm {
    #[serde(default)]
    t: String,
}

async fn checkin(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    track: crate::engagement::Track,
    path: web::Path<i32>,
    Form(f): Form<CheckinForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let key = state.config.secret_key.clone();
    let back = format!("/activities/{id}");
    let done = db::run(&state.pool, move |conn| {
        service::check_in_qr(conn, &user, &key, id, &f.t, now)
    })
    .await;
    if done.as_ref().is_ok_and(|m| m.starts_with("签到成功")) {
        track.record(("activity", Some(id)), "checkin");
    }
    match done {
        Ok(msg) => Ok(redirect_flash(&back, "ok", msg)),
        Err(AppError::Validation(m)) => Ok(redirect_flash(&back, "error", &m)),
        Err(e) => Err(e),
    }
}
