//! Cadre pages: surveys in scope, the editor, results with charts, per-unit response rates and
//! text answers, and the XLSX export.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::model::Visibility;
use super::model::{self, Survey};
use super::service::{self, SurveyForm, Tally};
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::db;
use crate::error::AppResult;
use crate::org::{scope, OrgUnit};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx, FieldErrors};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/surveys", web::get().to(list))
        .route("/admin/surveys/new", web::get().to(new_form))
        .route("/admin/surveys/new", web::post().to(create))
        .route("/admin/surveys/{id}", web::get().to(detail))
        .route("/admin/surveys/{id}/results.xlsx", web::get().to(xlsx));
}

#[derive(Template)]
#[template(path = "admin/surveys/list.html")]
pub struct ListPage {
    ctx: Ctx,
    rows: Vec<Survey>,
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

pub const EXAMPLE: &str = "[单选] 您对职工食堂的总体满意度 *\n非常满意\n满意\n一般\n不满意\n\n[多选 最多2] 您最希望增加哪些服务？\n健身房\n母婴室\n心理咨询\n法律援助\n\n[评分] 请为今年的工会服务打分 *\n\n[文本] 其他意见和建议";

#[derive(Template)]
#[template(path = "admin/surveys/form.html")]
pub struct FormPage {
    ctx: Ctx,
    form: SurveyForm,
    audience: Vec<i32>,
    units: Vec<OrgUnit>,
    visibilities: &'static [Visibility],
    errors: FieldErrors,
}

impl FormPage {
    fn in_audience(&self, id: &i32) -> bool {
        self.audience.contains(id)
    }
}

async fn form_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    posted: Option<(SurveyForm, Vec<i32>)>,
    errors: FieldErrors,
) -> AppResult<FormPage> {
    let units = db::run(&state.pool, move |conn| scope::managed_units(conn, &user)).await?;
    let (form, audience) = posted.unwrap_or_else(|| {
        let now = state.config.clock.now();
        (
            SurveyForm {
                results_visibility: "after_answer".into(),
                closes_at: crate::activities::service::to_local(&crate::time::plus(
                    now,
                    chrono::Duration::days(14),
                )),
                source: EXAMPLE.into(),
                ..Default::default()
            },
            units.first().map(|u| vec![u.id]).unwrap_or_default(),
        )
    });
    Ok(FormPage {
        ctx,
        form,
        audience,
        units,
        visibilities: Visibility::ALL,
        errors,
    })
}

async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    render(&form_page(&state, ctx, user, None, FieldErrors::default()).await?)
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let form = SurveyForm {
        title: get("title"),
        description: get("description"),
        anonymous: get("anonymous"),
        results_visibility: get("results_visibility"),
        opens_at: get("opens_at"),
        closes_at: get("closes_at"),
        source: get("source"),
    };
    let audience: Vec<i32> = pairs
        .iter()
        .filter(|(k, _)| k == "audience")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let (u2, f2, a2) = (user.clone(), form.clone(), audience.clone());
    match db::run(&state.pool, move |conn| {
        service::create(conn, &u2, &actor, &f2, &a2)
    })
    .await
    {
        Ok(id) => Ok(redirect_flash(
            &format!("/admin/surveys/{id}"),
            "ok",
            "问卷已发布",
        )),
        Err(e) => render_status(
            &form_page(&state, ctx, user, Some((form, audience)), e.fields()?).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

#[derive(Template)]
#[template(path = "admin/surveys/detail.html")]
pub struct DetailPage {
    ctx: Ctx,
    s: Survey,
    tallies: Vec<Tally>,
    responses: i64,
    per_unit: Vec<(String, i64, i64)>,
}

impl DetailPage {
    fn rate(&self, members: &i64, answered: &i64) -> String {
        if *members == 0 {
            "—".into()
        } else {
            format!("{:.0}%", *answered as f64 * 100.0 / *members as f64)
        }
    }
}

async fn detail(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let (s, (tallies, responses), per_unit) = db::run(&state.pool, move |conn| {
        let s = service::load_for_staff(conn, &user, id)?;
        let t = service::tally(conn, id)?;
        let u = service::per_unit(conn, &s)?;
        Ok((s, t, u))
    })
    .await?;
    render(&DetailPage {
        ctx,
        s,
        tallies,
        responses,
        per_unit,
    })
}

async fn xlsx(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let bytes = db::run(&state.pool, move |conn| {
        let s = service::load_for_staff(conn, &user, id)?;
        if !s.anonymous {
            let members = crate::surveys::model::respondents(conn, id)?;
            crate::db::write_tx(conn, |conn| {
                crate::audit::record_export(
                    conn,
                    &actor,
                    Some(s.unit_id),
                    crate::audit::AuditAction::SurveyExport,
                    ("survey", Some(id)),
                    &members,
                )
            })?;
        }
        service::results_xlsx(conn, &s)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"survey-{id}.xlsx\""),
        ))
        .body(bytes))
}
