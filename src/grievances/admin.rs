//! Cadre pages for grievances: the filtered case list, the case page with its actions, and the
//! time-limit settings. (The inbox across features is in `src/cadre/`.)

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{
    self, Action, AttachmentMeta, CaseFilter, Grievance, GrievanceEvent, State, CATEGORIES,
};
use super::service::{self, CadreAction, CaseRow, Limits, FLOW};
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::{AdminUser, StaffUser};
use crate::db;
use crate::error::{AppError, AppResult};
use crate::org::{scope, OrgUnit};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, render_status, url_encode, Ctx, Pager};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/grievances", web::get().to(list))
        .route("/admin/grievances/limits", web::post().to(save_limits))
        .route("/admin/grievances/{case}", web::get().to(show))
        .route("/admin/grievances/{case}/act", web::post().to(act))
        .route(
            "/admin/grievances/{case}/attachments/{aid}",
            web::get().to(attachment),
        );
}

#[derive(Template)]
#[template(path = "admin/grievances/list.html")]
pub struct CaseListPage {
    ctx: Ctx,
    rows: Vec<CaseRow>,
    pager: Pager,
    filter: CaseFilter,
    units: Vec<OrgUnit>,
    states: Vec<(&'static str, &'static str)>,
    categories: Vec<(&'static str, &'static str)>,
    query_base: String,
    limits: Limits,
}

impl CaseListPage {
    fn unit_selected(&self, id: &i32) -> bool {
        self.filter.unit == Some(*id)
    }
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<CaseFilter>,
) -> AppResult<HttpResponse> {
    let filter = q.into_inner();
    let (f2, now) = (filter.clone(), state.config.clock.now());
    let ((rows, pager, units), limits) = db::run(&state.pool, move |conn| {
        Ok((
            service::case_rows(conn, &user, &f2, false, now)?,
            service::limits(conn)?,
        ))
    })
    .await?;
    let mut query_base = format!(
        "state={}&category={}&overdue={}",
        url_encode(&filter.state),
        url_encode(&filter.category),
        url_encode(&filter.overdue)
    );
    if let Some(u) = filter.unit {
        query_base.push_str(&format!("&unit={u}"));
    }
    render(&CaseListPage {
        ctx,
        rows,
        pager,
        filter,
        units,
        states: State::ALL.iter().map(|s| (s.as_str(), s.label())).collect(),
        categories: CATEGORIES.to_vec(),
        query_base,
        limits,
    })
}

#[derive(Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    accept_working_days: String,
    #[serde(default)]
    answer_days: String,
}

async fn save_limits(
    req: HttpRequest,
    state: web::Data<AppState>,
    AdminUser(user): AdminUser,
    Form(f): Form<LimitsForm>,
) -> AppResult<HttpResponse> {
    let (Ok(a), Ok(d)) = (
        f.accept_working_days.trim().parse::<u32>(),
        f.answer_days.trim().parse::<u32>(),
    ) else {
        return Ok(redirect_flash(
            "/admin/grievances",
            "error",
            "时限请填写整数天数",
        ));
    };
    if !(1..=30).contains(&a) || !(1..=90).contains(&d) {
        return Ok(redirect_flash(
            "/admin/grievances",
            "error",
            "受理时限 1–30 个工作日，答复时限 1–90 天",
        ));
    }
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let limits = Limits {
        accept_working_days: a,
        answer_days: i64::from(d),
        ..Limits::default()
    };
    db::run(&state.pool, move |conn| {
        service::set_limits(conn, &actor, limits)
    })
    .await?;
    Ok(redirect_flash(
        "/admin/grievances",
        "ok",
        "时限已保存，对之后的办理步骤生效",
    ))
}

#[derive(Template)]
#[template(path = "admin/grievances/show.html")]
pub struct CaseShowPage {
    ctx: Ctx,
    g: Grievance,
    unit: OrgUnit,
    member: Option<(String, String)>,
    handler: String,
    events: Vec<GrievanceEvent>,
    files: Vec<AttachmentMeta>,
    actions: Vec<Action>,
    cadres: Vec<(i32, String)>,
    late: bool,
    error: String,
    draft: String,
}

impl CaseShowPage {
    fn can(&self, action: Action) -> bool {
        self.actions.contains(&action)
    }

    fn can_reply(&self) -> bool {
        matches!(self.g.state, State::Accepted | State::InProgress)
    }
}

async fn show_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    case_ref: String,
    log_view: Option<Actor>,
    error: String,
    draft: String,
) -> AppResult<CaseShowPage> {
    let now = state.config.clock.now();
    db::run(&state.pool, move |conn| {
        let (g, unit) = service::load_for_cadre(conn, &user, &case_ref)?;
        let id = g.id;
        if let Some(actor) = log_view {
            service::record_view(conn, &actor, &g)?;
        }
        let member = match g.member_id {
            Some(m) => crate::members::model::find(conn, m)?.map(|m| (m.name, m.employee_no)),
            None => None,
        };
        let handler = match g.handler_id {
            Some(h) => crate::members::model::find(conn, h)?
                .map(|m| m.name)
                .unwrap_or_default(),
            None => String::new(),
        };
        let mut cadres = Vec::new();
        for cid in scope::responsible_cadres(conn, &unit)? {
            if let Some(m) = crate::members::model::find(conn, cid)? {
                cadres.push((m.id, m.name));
            }
        }
        let events = model::events(conn, id, true)?;
        let files = model::attachments_of(conn, id)?;
        let mut actions = FLOW.actions(g.state);
        if unit.parent_id.is_none() {
            actions.retain(|a| *a != Action::Escalate);
        }
        Ok(CaseShowPage {
            ctx,
            late: g.is_late(now),
            g,
            unit,
            member,
            handler,
            events,
            files,
            actions,
            cadres,
            error,
            draft,
        })
    })
    .await
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    render(
        &show_page(
            &state,
            ctx,
            user,
            path.into_inner(),
            Some(actor),
            String::new(),
            String::new(),
        )
        .await?,
    )
}

#[derive(Deserialize)]
pub struct CaseActForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    text: String,
    #[serde(default)]
    cadre_id: String,
}

/// What the cadre's form asks for: a workflow action, or a step that changes no state
/// (reply, internal note, assign).
fn cadre_action(f: &CaseActForm) -> AppResult<CadreAction> {
    let unknown = || AppError::Validation("未知的操作".into());
    if let Some(a) = Action::parse(&f.action) {
        return match a {
            Action::Accept => Ok(CadreAction::Accept),
            Action::Reject => Ok(CadreAction::Reject {
                reason: f.text.clone(),
            }),
            Action::Answer => Ok(CadreAction::Answer {
                resolution: f.text.clone(),
            }),
            Action::Escalate => Ok(CadreAction::Escalate),
            Action::Close => Ok(CadreAction::Close),
            // Taken implicitly (start by the first reply) or by the member.
            Action::Start | Action::Rate | Action::Reopen => Err(unknown()),
        };
    }
    Ok(match f.action.as_str() {
        "reply" => CadreAction::Reply {
            text: f.text.clone(),
        },
        "note" => CadreAction::Note {
            text: f.text.clone(),
        },
        "assign" => CadreAction::Assign {
            cadre_id: f
                .cadre_id
                .parse()
                .map_err(|_| AppError::Validation("请选择要指派的干部".into()))?,
        },
        _ => return Err(unknown()),
    })
}

fn done_message(action: &str) -> &'static str {
    match (Action::parse(action), action) {
        (Some(Action::Accept), _) => "已受理",
        (Some(Action::Reject), _) => "已不予受理，并告知会员理由",
        (Some(Action::Answer), _) => "已答复，等待会员评价",
        (Some(Action::Escalate), _) => "已转上级工会办理",
        (Some(Action::Close), _) => "已办结",
        (_, "reply") => "回复已发送",
        (_, "note") => "内部备注已保存（会员看不到）",
        (_, "assign") => "已指派",
        _ => "已完成",
    }
}

async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<String>,
    Form(f): Form<CaseActForm>,
) -> AppResult<HttpResponse> {
    let case_ref = path.into_inner();
    let r2 = case_ref.clone();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let u2 = user.clone();
    let version = f.version;
    let result = async {
        let action = cadre_action(&f)?;
        db::run(&state.pool, move |conn| {
            service::cadre_act(conn, &u2, &actor, &r2, version, action)
        })
        .await
    }
    .await;
    match result {
        // After an escalation the case may be out of this cadre's reach: go back to the inbox.
        Ok(()) if f.action == "escalate" => Ok(redirect_flash(
            "/admin/inbox",
            "ok",
            done_message(&f.action),
        )),
        Ok(()) => Ok(redirect_flash(
            &format!("/admin/grievances/{case_ref}"),
            "ok",
            done_message(&f.action),
        )),
        Err(AppError::Validation(m)) => {
            let page = show_page(&state, ctx, user, case_ref, None, m, f.text.clone()).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e),
    }
}

async fn attachment(
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<(String, i32)>,
) -> AppResult<HttpResponse> {
    let (case_ref, aid) = path.into_inner();
    let (name, mime, data) = db::run(&state.pool, move |conn| {
        let (g, _) = service::load_for_cadre(conn, &user, &case_ref)?;
        model::attachment_data(conn, g.id, aid)?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(super::attachment_response(&name, &mime, data))
}
