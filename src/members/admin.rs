//! Admin pages for the roster: search, create, edit, disable, reset password, roles, grid cadre.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{self, Member, MemberFilter, MemberRow};
use super::service::{self, MemberForm};
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::org::{scope, OrgUnit, Role};
use crate::state::AppState;
use crate::web::{
    client_ip, redirect_flash, render, render_status, url_encode, ConfirmPage, Ctx, FieldErrors,
    Pager,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/members", web::get().to(list))
        .route("/admin/members", web::post().to(create))
        .route("/admin/members/new", web::get().to(new_form))
        .route("/admin/members/{id}", web::get().to(edit_form))
        .route("/admin/members/{id}", web::post().to(update))
        .route(
            "/admin/members/{id}/disable",
            web::get().to(confirm_disable),
        )
        .route("/admin/members/{id}/disable", web::post().to(disable))
        .route("/admin/members/{id}/enable", web::post().to(enable))
        .route(
            "/admin/members/{id}/reset-password",
            web::get().to(confirm_reset),
        )
        .route(
            "/admin/members/{id}/reset-password",
            web::post().to(reset_password),
        )
        .route("/admin/members/{id}/roles", web::post().to(grant_role))
        .route(
            "/admin/members/{id}/roles/{role_id}/delete",
            web::post().to(revoke_role),
        )
        .route("/admin/members/{id}/grid", web::post().to(set_grid));
}

const PER_PAGE: i64 = 20;

#[derive(Template)]
#[template(path = "admin/members/list.html")]
pub struct MembersListPage {
    ctx: Ctx,
    rows: Vec<MemberRow>,
    pager: Pager,
    filter: MemberFilter,
    units: Vec<OrgUnit>,
    query_base: String,
}

impl MembersListPage {
    fn unit_selected(&self, id: &i32) -> bool {
        self.filter.unit == Some(*id)
    }
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<MemberFilter>,
) -> AppResult<HttpResponse> {
    let filter = q.into_inner();
    let f2 = filter.clone();
    let (rows, pager, units) = db::run(&state.pool, move |conn| {
        let units = scope::managed_units(conn, &user)?;
        let ids: Option<Vec<i32>> = if user.is_admin {
            None
        } else {
            Some(units.iter().map(|u| u.id).collect())
        };
        let (rows, pager) = model::search(conn, ids.as_deref(), &f2, PER_PAGE)?;
        Ok((rows, pager, units))
    })
    .await?;
    let mut query_base = format!("q={}", url_encode(filter.q.trim()));
    if let Some(u) = filter.unit {
        query_base.push_str(&format!("&unit={u}"));
    }
    render(&MembersListPage {
        ctx,
        rows,
        pager,
        filter,
        units,
        query_base,
    })
}

#[derive(Template)]
#[template(path = "admin/members/form.html")]
pub struct MemberFormPage {
    ctx: Ctx,
    /// None when creating.
    member: Option<Member>,
    form: MemberForm,
    errors: FieldErrors,
    units: Vec<OrgUnit>,
    roles: Vec<(i32, i32, String, Role)>,
    role_units: Vec<OrgUnit>,
    grid_candidates: Vec<(i32, String)>,
    all_roles: Vec<Role>,
}

impl MemberFormPage {
    fn selected_unit(&self, id: &i32) -> bool {
        self.form.unit_id == id.to_string()
    }

    fn is_grid(&self, id: &i32) -> bool {
        self.member.as_ref().and_then(|m| m.grid_cadre_id) == Some(*id)
    }
}

async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    let units = db::run(&state.pool, move |conn| scope::managed_units(conn, &user)).await?;
    render(&MemberFormPage {
        ctx,
        member: None,
        form: MemberForm::default(),
        errors: FieldErrors::default(),
        units,
        roles: vec![],
        role_units: vec![],
        grid_candidates: vec![],
        all_roles: Role::ALL.to_vec(),
    })
}

#[derive(Template)]
#[template(path = "admin/members/password.html")]
pub struct InitialPasswordPage {
    ctx: Ctx,
    member_id: i32,
    name: String,
    employee_no: String,
    password: String,
    created: bool,
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    Form(form): Form<MemberForm>,
) -> AppResult<HttpResponse> {
    let input = match form.validate() {
        Ok(i) => i,
        Err(errors) => return rerender_new(&state, ctx, user, form, errors).await,
    };
    let password = crate::auth::random_token(7);
    let hash = state.hasher.hash(password.clone()).await?;
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let (u2, i2) = (user.clone(), input.clone());
    let result = db::run(&state.pool, move |conn| {
        service::create(conn, Some(&u2), &actor, &i2, &hash, true)
    })
    .await;
    match result {
        Ok(id) => render(&InitialPasswordPage {
            ctx,
            member_id: id,
            name: input.name,
            employee_no: input.employee_no,
            password,
            created: true,
        }),
        Err(e) => rerender_new(&state, ctx, user, form, e.fields()?).await,
    }
}

async fn rerender_new(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    form: MemberForm,
    errors: FieldErrors,
) -> AppResult<HttpResponse> {
    let units = db::run(&state.pool, move |conn| scope::managed_units(conn, &user)).await?;
    render_status(
        &MemberFormPage {
            ctx,
            member: None,
            form,
            errors,
            units,
            roles: vec![],
            role_units: vec![],
            grid_candidates: vec![],
            all_roles: Role::ALL.to_vec(),
        },
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// Everything the edit page shows besides the form.
async fn edit_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    id: i32,
    form: Option<MemberForm>,
    errors: FieldErrors,
) -> AppResult<MemberFormPage> {
    let (member, unit, units, roles, role_units, grid) = db::run(&state.pool, move |conn| {
        let (member, unit) = service::load_in_scope(conn, &user, id)?;
        let units = scope::managed_units(conn, &user)?;
        let roles = model::roles_of(conn, id)?;
        let role_units: Vec<OrgUnit> = units
            .iter()
            .filter(|u| scope::may_grant_roles(&user, &u.path))
            .cloned()
            .collect();
        let grid = model::cadres_at(conn, &service::ancestor_ids(&unit.path))?;
        Ok((member, unit, units, roles, role_units, grid))
    })
    .await?;
    let form = form.unwrap_or_else(|| MemberForm {
        employee_no: member.employee_no.clone(),
        name: member.name.clone(),
        phone: member.phone.clone().unwrap_or_default(),
        unit_id: unit.id.to_string(),
    });
    Ok(MemberFormPage {
        ctx,
        member: Some(member),
        form,
        errors,
        units,
        roles,
        role_units,
        grid_candidates: grid,
        all_roles: Role::ALL.to_vec(),
    })
}

async fn edit_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let page = edit_page(&state, ctx, user.clone(), id, None, FieldErrors::default()).await?;
    // The member's record was shown (the page loaded only within the cadre's scope): audited,
    // and listed on the member's /me/privacy.
    if id != user.id {
        let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
        db::run(&state.pool, move |conn| {
            crate::db::write_tx(conn, |conn| {
                crate::audit::record(
                    conn,
                    &actor,
                    None,
                    crate::audit::AuditAction::MemberView,
                    ("member", Some(id)),
                    "会员资料页",
                )
            })
        })
        .await?;
    }
    render(&page)
}

async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(form): Form<MemberForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let errors = match form.validate() {
        Ok(input) => {
            let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
            let u2 = user.clone();
            match db::run(&state.pool, move |conn| {
                service::update(conn, &u2, &actor, id, &input)
            })
            .await
            {
                Ok(()) => {
                    return Ok(redirect_flash(
                        &format!("/admin/members/{id}"),
                        "ok",
                        "会员信息已保存",
                    ))
                }
                Err(e) => e.fields()?,
            }
        }
        Err(e) => e,
    };
    let page = edit_page(&state, ctx, user, id, Some(form), errors).await?;
    render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
}

async fn confirm_disable(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let (m, _) = db::run(&state.pool, move |conn| {
        service::load_in_scope(conn, &user, id)
    })
    .await?;
    render(&ConfirmPage {
        ctx,
        title: "停用会员".into(),
        message: format!(
            "确定停用 {}（工号 {}）吗？停用后该账号立即退出登录且无法再登录，可随时重新启用。",
            m.name, m.employee_no
        ),
        action: format!("/admin/members/{id}/disable"),
        button: "确认停用".into(),
        back: format!("/admin/members/{id}"),
    })
}

#[derive(Deserialize)]
pub struct Empty {}

async fn set_disabled(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: std::sync::Arc<crate::auth::User>,
    id: i32,
    disabled: bool,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let res = db::run(&state.pool, move |conn| {
        service::set_disabled(conn, &user, &actor, id, disabled)
    })
    .await;
    let back = format!("/admin/members/{id}");
    match res {
        Ok(()) if disabled => Ok(redirect_flash(
            &back,
            "ok",
            "已停用，该会员的登录已全部失效",
        )),
        Ok(()) => Ok(redirect_flash(&back, "ok", "已重新启用")),
        Err(AppError::Validation(m)) => Ok(redirect_flash(&back, "error", &m)),
        Err(e) => Err(e),
    }
}

async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    set_disabled(req, state, user, path.into_inner(), true).await
}

async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    set_disabled(req, state, user, path.into_inner(), false).await
}

async fn confirm_reset(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let (m, _) = db::run(&state.pool, move |conn| {
        service::load_in_scope(conn, &user, id)
    })
    .await?;
    render(&ConfirmPage {
        ctx,
        title: "重置密码".into(),
        message: format!("确定为 {}（工号 {}）重置密码吗？系统将生成新的初始密码，原密码和所有登录立即失效，本人首次登录须修改密码。", m.name, m.employee_no),
        action: format!("/admin/members/{id}/reset-password"),
        button: "确认重置".into(),
        back: format!("/admin/members/{id}"),
    })
}

async fn reset_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let password = crate::auth::random_token(7);
    let hash = state.hasher.hash(password.clone()).await?;
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let m = db::run(&state.pool, move |conn| {
        service::reset_password(conn, &user, &actor, id, &hash)?;
        service::load_in_scope(conn, &user, id).map(|(m, _)| m)
    })
    .await?;
    render(&InitialPasswordPage {
        ctx,
        member_id: id,
        name: m.name,
        employee_no: m.employee_no,
        password,
        created: false,
    })
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    unit_id: String,
    #[serde(default)]
    role: String,
}

async fn grant_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(form): Form<RoleForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let back = format!("/admin/members/{id}");
    let (Ok(unit_id), Some(role)) = (form.unit_id.parse::<i32>(), Role::parse(&form.role)) else {
        return Ok(redirect_flash(&back, "error", "请选择单位和角色"));
    };
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    match db::run(&state.pool, move |conn| {
        service::grant_role(conn, &user, &actor, id, unit_id, role)
    })
    .await
    {
        Ok(()) => Ok(redirect_flash(&back, "ok", "角色已授予")),
        Err(AppError::Validation(m)) => Ok(redirect_flash(&back, "error", &m)),
        Err(e) => Err(e),
    }
}

async fn revoke_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<(i32, i32)>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let (id, role_id) = path.into_inner();
    let back = format!("/admin/members/{id}");
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    match db::run(&state.pool, move |conn| {
        service::revoke_role(conn, &user, &actor, id, role_id)
    })
    .await
    {
        Ok(()) => Ok(redirect_flash(&back, "ok", "角色已撤销")),
        Err(AppError::Validation(m)) => Ok(redirect_flash(&back, "error", &m)),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct GridForm {
    #[serde(default)]
    cadre_id: String,
}

async fn set_grid(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
    Form(form): Form<GridForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let back = format!("/admin/members/{id}");
    let cadre = form.cadre_id.parse::<i32>().ok();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    match db::run(&state.pool, move |conn| {
        service::set_grid_cadre(conn, &user, &actor, id, cadre)
    })
    .await
    {
        Ok(()) => Ok(redirect_flash(&back, "ok", "网格员已保存")),
        Err(AppError::Validation(m)) => Ok(redirect_flash(&back, "error", &m)),
        Err(e) => Err(e),
    }
}
