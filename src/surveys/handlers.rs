//! Member pages: surveys for me, answering one, and its results when they are visible.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::model::{self, Question, Survey};
use super::service::{self, Posted, QuestionErrors, Tally};
use crate::auth::csrf::Form;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{redirect_flash, render, render_status, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/surveys", web::get().to(list))
        .route("/surveys/{id}", web::get().to(show))
        .route("/surveys/{id}", web::post().to(submit))
        .route("/surveys/{id}/results", web::get().to(results));
}

#[derive(Template)]
#[template(path = "surveys/list.html")]
pub struct ListPage {
    ctx: Ctx,
    rows: Vec<(Survey, bool)>,
    now: chrono::NaiveDateTime,
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let rows = db::run(&state.pool, move |conn| {
        let anc = crate::org::scope::ancestors(&user);
        let done = model::answered_ids(conn, user.id)?;
        let mut rows: Vec<(Survey, bool)> = model::visible(conn, &anc, now, 100)?
            .into_iter()
            .map(|s| {
                let d = done.contains(&s.id);
                (s, d)
            })
            .collect();
        // Open and unanswered first, then open and answered, then closed.
        rows.sort_by_key(|(s, d)| (s.closed(&now), *d));
        Ok(rows)
    })
    .await?;
    render(&ListPage { ctx, rows, now })
}

#[derive(Template)]
#[template(path = "surveys/show.html")]
pub struct ShowPage {
    ctx: Ctx,
    s: Survey,
    questions: Vec<Question>,
    answered: bool,
    can_see_results: bool,
    now: chrono::NaiveDateTime,
    posted: Posted,
    errors: QuestionErrors,
}

impl ShowPage {
    fn picked(&self, q: &i32, i: &usize) -> bool {
        self.posted
            .get(q)
            .is_some_and(|v| v.iter().any(|x| *x == i.to_string()))
    }
    fn text_of(&self, q: &i32) -> String {
        self.posted
            .get(q)
            .and_then(|v| v.first().cloned())
            .unwrap_or_default()
    }
}

async fn page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    id: i32,
    posted: Posted,
    errors: QuestionErrors,
) -> AppResult<ShowPage> {
    let now = state.config.clock.now();
    let (s, questions, answered) = db::run(&state.pool, move |conn| {
        let s = service::readable(conn, &user, id, now)?;
        Ok((
            s,
            model::questions(conn, id)?,
            model::has_answered(conn, id, user.id)?,
        ))
    })
    .await?;
    let can_see_results = service::may_see_results(&s, answered, false, &now);
    Ok(ShowPage {
        ctx,
        s,
        questions,
        answered,
        can_see_results,
        now,
        posted,
        errors,
    })
}

async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    track: crate::engagement::Track,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let p = page(
        &state,
        ctx,
        user,
        id,
        Posted::new(),
        QuestionErrors::default(),
    )
    .await?;
    // Anonymous surveys record nothing, not even a view.
    if !p.s.anonymous {
        track.record(("survey", Some(id)), "view");
    }
    render(&p)
}

async fn submit(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    track: crate::engagement::Track,
    path: web::Path<i32>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    crate::membership::require_services(&user)?;
    let id = path.into_inner();
    let mut posted = Posted::new();
    for (k, v) in pairs {
        if let Some(q) = k.strip_prefix('q').and_then(|q| q.parse::<i32>().ok()) {
            posted.entry(q).or_default().push(v);
        }
    }
    let now = state.config.clock.now();
    let (u2, p2) = (user.clone(), posted.clone());
    let back = format!("/surveys/{id}");
    let done = db::run(&state.pool, move |conn| {
        let anonymous = model::find(conn, id)?.is_some_and(|s| s.anonymous);
        Ok((service::submit(conn, &u2, id, &p2, now)?, anonymous))
    })
    .await;
    // Votes on anonymous surveys are never recorded.
    if matches!(done, Ok((Ok(()), false))) {
        track.record(("survey", Some(id)), "vote");
    }
    match done.map(|(r, _)| r) {
        Ok(Ok(())) => Ok(redirect_flash(&back, "ok", "提交成功，感谢您的参与！")),
        Ok(Err(errors)) => render_status(
            &page(&state, ctx, user, id, posted, errors).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(AppError::Conflict(m)) | Err(AppError::Validation(m)) => {
            Ok(redirect_flash(&back, "error", &m))
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "surveys/results.html")]
pub struct ResultsPage {
    ctx: Ctx,
    s: Survey,
    tallies: Vec<Tally>,
    responses: i64,
}

async fn results(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let (s, tallies, responses) = db::run(&state.pool, move |conn| {
        let s = service::readable(conn, &user, id, now)?;
        let answered = model::has_answered(conn, id, user.id)?;
        let manages = service::load_for_staff(conn, &user, id).is_ok();
        if !service::may_see_results(&s, answered, manages, &now) {
            return Err(AppError::Forbidden);
        }
        let (t, n) = service::tally(conn, id)?;
        Ok((s, t, n))
    })
    .await?;
    render(&ResultsPage {
        ctx,
        s,
        tallies,
        responses,
    })
}
