//! Admin pages for the org tree: view, create, rename, move, disable.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{model, scope, service, OrgUnit, UNIT_KINDS};
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::ConfirmPage;
use crate::web::{client_ip, redirect_flash, render, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/org", web::get().to(tree))
        .route("/admin/org", web::post().to(create))
        .route("/admin/org/{id}", web::get().to(edit))
        .route("/admin/org/{id}/rename", web::post().to(rename))
        .route("/admin/org/{id}/move", web::post().to(move_unit))
        .route("/admin/org/{id}/disable", web::get().to(confirm_disable))
        .route("/admin/org/{id}/disable", web::post().to(disable))
        .route("/admin/org/{id}/enable", web::post().to(enable));
}

/// A unit with what the viewer may do to it.
pub struct UnitRow {
    pub unit: OrgUnit,
    pub indent: usize,
    pub editable: bool,
    pub member_count: i64,
}

#[derive(Template)]
#[template(path = "admin/org/tree.html")]
pub struct OrgTreePage {
    ctx: Ctx,
    rows: Vec<UnitRow>,
    parents: Vec<OrgUnit>,
    kinds: Vec<(&'static str, &'static str)>,
}

async fn tree(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    let (rows, parents) = db::run(&state.pool, move |conn| {
        let units = scope::managed_units(conn, &user)?;
        let counts = model::member_counts(conn)?;
        let base = units.iter().map(OrgUnit::depth).min().unwrap_or(0);
        let parents: Vec<OrgUnit> = units
            .iter()
            .filter(|u| !u.disabled && scope::may_add_child(&user, u))
            .cloned()
            .collect();
        let rows = units
            .into_iter()
            .map(|u| UnitRow {
                indent: u.depth().saturating_sub(base),
                editable: scope::may_edit_unit(&user, &u),
                member_count: counts
                    .iter()
                    .find(|(id, _)| *id == u.id)
                    .map_or(0, |(_, n)| *n),
                unit: u,
            })
            .collect();
        Ok((rows, parents))
    })
    .await?;
    render(&OrgTreePage {
        ctx,
        rows,
        parents,
        kinds: UNIT_KINDS.to_vec(),
    })
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    Form(form): Form<CreateForm>,
) -> AppResult<HttpResponse> {
    let Ok(parent_id) = form.parent_id.parse::<i32>() else {
        return Ok(redirect_flash("/admin/org", "error", "请选择上级组织"));
    };
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let res = db::run(&state.pool, move |conn| {
        service::create_child(conn, Some(&user), &actor, parent_id, &form.name, &form.kind)
    })
    .await;
    match res {
        Ok(u) => Ok(redirect_flash(
            "/admin/org",
            "ok",
            &format!("已创建“{}”", u.name),
        )),
        Err(AppError::Validation(m)) => Ok(redirect_flash("/admin/org", "error", &m)),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "admin/org/edit.html")]
pub struct OrgEditPage {
    ctx: Ctx,
    unit: OrgUnit,
    parents: Vec<OrgUnit>,
}

impl OrgEditPage {
    fn is_parent(&self, id: &i32) -> bool {
        self.unit.parent_id == Some(*id)
    }
}

async fn edit(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let (unit, parents) = db::run(&state.pool, move |conn| {
        let unit = model::find(conn, id)?.ok_or(AppError::NotFound)?;
        if !scope::may_edit_unit(&user, &unit) {
            return Err(AppError::NotFound);
        }
        let parents = scope::managed_units(conn, &user)?
            .into_iter()
            .filter(|p| !unit.contains(p) && !p.disabled && scope::may_add_child(&user, p))
            .collect();
        Ok((unit, parents))
    })
    .await?;
    render(&OrgEditPage { ctx, unit, parents })
}

#[derive(Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    name: String,
}

fn outcome(res: AppResult<()>, back: &str, ok: &str) -> AppResult<HttpResponse> {
    match res {
        Ok(()) => Ok(redirect_flash(back, "ok", ok)),
        Err(AppError::Validation(m)) => Ok(redirect_flash(back, "error", &m)),
        Err(e) => Err(e),
    }
}

async fn rename(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(form): Form<RenameForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let res = db::run(&state.pool, move |conn| {
        service::rename(conn, &user, &actor, id, &form.name)
    })
    .await;
    state.labels.forget();
    outcome(res, &format!("/admin/org/{id}"), "名称已修改")
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    parent_id: String,
}

async fn move_unit(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(form): Form<MoveForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let back = format!("/admin/org/{id}");
    let Ok(parent) = form.parent_id.parse::<i32>() else {
        return Ok(redirect_flash(&back, "error", "请选择新的上级组织"));
    };
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let res = db::run(&state.pool, move |conn| {
        service::move_unit(conn, &user, &actor, id, parent)
    })
    .await;
    state.labels.forget();
    outcome(res, &back, "已移动")
}

async fn confirm_disable(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let unit = db::run(&state.pool, move |conn| {
        let unit = model::find(conn, id)?.ok_or(AppError::NotFound)?;
        if !scope::may_edit_unit(&user, &unit) {
            return Err(AppError::NotFound);
        }
        Ok(unit)
    })
    .await?;
    render(&ConfirmPage {
        ctx,
        title: "停用组织".into(),
        message: format!(
            "确定停用“{}”吗？停用后不能在其下新建组织或加入会员，该单位的角色暂停生效；已有会员和数据保留，可随时重新启用。",
            unit.name
        ),
        action: format!("/admin/org/{id}/disable"),
        button: "确认停用".into(),
        back: format!("/admin/org/{id}"),
    })
}

#[derive(Deserialize)]
pub struct Empty {}

async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let res = db::run(&state.pool, move |conn| {
        service::set_disabled(conn, &user, &actor, id, true)
    })
    .await;
    outcome(res, &format!("/admin/org/{id}"), "已停用")
}

async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let res = db::run(&state.pool, move |conn| {
        service::set_disabled(conn, &user, &actor, id, false)
    })
    .await;
    outcome(res, &format!("/admin/org/{id}"), "已重新启用")
}
