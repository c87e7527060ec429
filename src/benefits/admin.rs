//! Cadre pages: requests awaiting me and all in scope, the decision page, the catalogue,
//! budgets, and finance's payout list with its XLSX export.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Datelike;
use serde::Deserialize;

use super::model::{
    self, Action, AmountMode, BenefitEvent, BenefitItem, BenefitRequest, Frequency, State,
    CATEGORIES,
};
use super::service::{self, rows_for, Decision, ItemForm, PayoutRow, Row};
use crate::attachments::AttachmentMeta;
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::user::{AdminUser, StaffUser};
use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::org::{scope, OrgUnit};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/benefits", web::get().to(list))
        .route("/admin/benefits/catalogue", web::get().to(catalogue))
        .route("/admin/benefits/catalogue", web::post().to(create_item))
        .route(
            "/admin/benefits/catalogue/{id}/toggle",
            web::post().to(toggle_item),
        )
        .route("/admin/benefits/budgets", web::get().to(budgets))
        .route("/admin/benefits/budgets", web::post().to(set_budget))
        .route("/admin/benefits/payouts", web::get().to(payouts))
        .route("/admin/benefits/payouts", web::post().to(pay))
        .route("/admin/benefits/payouts.xlsx", web::get().to(payouts_xlsx))
        .route("/admin/benefits/{id}", web::get().to(show))
        .route("/admin/benefits/{id}/decide", web::post().to(decide))
        .route(
            "/admin/benefits/{id}/attachments/{aid}",
            web::get().to(attachment),
        );
}

#[derive(Template)]
#[template(path = "admin/benefits/list.html")]
pub struct BenefitListPage {
    ctx: Ctx,
    awaiting: Vec<Row>,
    rows: Vec<Row>,
    pager: crate::forms::Pager,
    /// The filter as a query string, for the pager's links.
    query_base: String,
    states: Vec<(&'static str, &'static str)>,
    state: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
    page: Option<i64>,
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let filter = State::parse(&q.state);
    let page = q.page;
    let (awaiting, (rows, pager)) = db::run(&state.pool, move |conn| {
        let awaiting: Vec<Row> = service::awaiting_rows(conn, &user)?;
        Ok((awaiting, rows_for(conn, &user, filter, page)?))
    })
    .await?;
    render(&BenefitListPage {
        ctx,
        awaiting,
        rows,
        pager,
        query_base: format!("state={}", filter.map_or("", State::as_str)),
        states: State::ALL.iter().map(|s| (s.as_str(), s.label())).collect(),
        state: filter.map_or("", State::as_str).to_string(),
    })
}

#[derive(Template)]
#[template(path = "admin/benefits/show.html")]
pub struct BenefitShowPage {
    ctx: Ctx,
    req: BenefitRequest,
    item: BenefitItem,
    unit: OrgUnit,
    member: (String, String),
    events: Vec<BenefitEvent>,
    files: Vec<AttachmentMeta>,
    /// Health and bank details: shown only to approvers in the chain and finance.
    details: Option<Vec<(String, String)>>,
    can_decide: Result<(), &'static str>,
    chain: Vec<(String, bool)>,
    error: String,
}

impl BenefitShowPage {
    fn decide_ok(&self) -> bool {
        self.can_decide.is_ok()
    }
    fn decide_why(&self) -> &str {
        self.can_decide.err().unwrap_or("")
    }
}

async fn show_page(
    state: &web::Data<AppState>,
    req_http: &HttpRequest,
    ctx: Ctx,
    user: std::sync::Arc<User>,
    id: i32,
    error: String,
) -> AppResult<BenefitShowPage> {
    let actor = Actor::user(&user, client_ip(req_http), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        let (req, item, unit) = service::load_for_staff(conn, &user, id)?;
        let m = crate::members::model::find(conn, req.member_id)?.ok_or(AppError::NotFound)?;
        let see_details = service::may_see_details(&user, &req, &unit.path);
        let details = if see_details {
            if item.sensitive {
                service::record_details_view(conn, &actor, &req)?;
            }
            Some(req.detail_pairs())
        } else {
            None
        };
        let chain = req
            .chain()
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    service::role_label(r).to_string(),
                    (i as i32) < req.step || req.is_approved(),
                )
            })
            .collect();
        Ok(BenefitShowPage {
            can_decide: service::may_decide_now(conn, &user, &req, &unit.path)?,
            events: model::events(conn, id)?,
            files: if see_details {
                crate::attachments::list(conn, ("benefit", id))?
            } else {
                Vec::new()
            },
            member: (m.name, m.employee_no),
            ctx,
            req,
            item,
            unit,
            details,
            chain,
            error,
        })
    })
    .await
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    render(&show_page(&state, &req, ctx, user, path.into_inner(), String::new()).await?)
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    text: String,
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
    let decision = match Action::parse(&f.action) {
        Some(Action::Approve) => Decision::Approve,
        Some(Action::Reject) => Decision::Reject {
            reason: f.text.clone(),
        },
        Some(Action::Return) => Decision::Return {
            note: f.text.clone(),
        },
        _ => return Err(AppError::Validation("未知的操作".into())),
    };
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let u2 = user.clone();
    match db::run(&state.pool, move |conn| {
        service::decide(conn, &u2, &actor, id, f.version, decision)
    })
    .await
    {
        Ok(()) => Ok(redirect_flash(
            &format!("/admin/benefits/{id}"),
            "ok",
            "审批意见已提交",
        )),
        Err(AppError::Validation(m)) => render_status(
            &show_page(&state, &req, ctx, user, id, m).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e),
    }
}

/// A request's material (hospital records, certificates) is as sensitive as its details: only
/// those who may see the details download it, and for a sensitive item each download is audited.
async fn attachment(
    req_http: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<(i32, i32)>,
) -> AppResult<HttpResponse> {
    let (id, aid) = path.into_inner();
    let actor = Actor::user(&user, client_ip(&req_http), state.config.clock.now());
    let (name, mime, data) = db::run(&state.pool, move |conn| {
        let (req, item, unit) = service::load_for_staff(conn, &user, id)?;
        if !service::may_see_details(&user, &req, &unit.path) {
            return Err(AppError::NotFound);
        }
        let file =
            crate::attachments::data(conn, ("benefit", id), aid)?.ok_or(AppError::NotFound)?;
        if item.sensitive {
            service::record_details_view(conn, &actor, &req)?;
        }
        Ok(file)
    })
    .await?;
    Ok(crate::attachments::response(&name, &mime, data))
}

#[derive(Template)]
#[template(path = "admin/benefits/catalogue.html")]
pub struct CataloguePage {
    ctx: Ctx,
    items: Vec<BenefitItem>,
    categories: Vec<(&'static str, &'static str)>,
    units: Vec<OrgUnit>,
    /// The new-item form as typed (empty, or sent back with its errors).
    form: ItemForm,
    errors: FieldErrors,
}

async fn catalogue_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    form: ItemForm,
    errors: FieldErrors,
) -> AppResult<CataloguePage> {
    let (items, units) = db::run(&state.pool, |conn| {
        Ok((model::items(conn)?, crate::org::model::all(conn)?))
    })
    .await?;
    Ok(CataloguePage {
        ctx,
        items,
        categories: CATEGORIES.to_vec(),
        units,
        form,
        errors,
    })
}

async fn catalogue(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(_): StaffUser,
) -> AppResult<HttpResponse> {
    let form = ItemForm {
        amount_mode: AmountMode::Max.as_str().into(),
        frequency: Frequency::Yearly.as_str().into(),
        steps: "cadre,chair".into(),
        ..ItemForm::default()
    };
    render(&catalogue_page(&state, ctx, form, FieldErrors::default()).await?)
}

async fn create_item(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    AdminUser(user): AdminUser,
    Form(form): Form<ItemForm>,
) -> AppResult<HttpResponse> {
    let input = match form.parse() {
        Ok(input) => input,
        Err(errors) => {
            return render_status(
                &catalogue_page(&state, ctx, form, errors).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    };
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        service::create_item(conn, &actor, &input)
    })
    .await?;
    Ok(redirect_flash(
        "/admin/benefits/catalogue",
        "ok",
        "项目已添加",
    ))
}

#[derive(Deserialize)]
pub struct Empty {}

async fn toggle_item(
    req: HttpRequest,
    state: web::Data<AppState>,
    AdminUser(user): AdminUser,
    path: web::Path<i32>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        service::toggle_item(conn, &actor, id)
    })
    .await?;
    Ok(redirect_flash("/admin/benefits/catalogue", "ok", "已更新"))
}

pub struct BudgetLine {
    pub unit: String,
    pub category: String,
    pub planned: i64,
    pub committed: i64,
    pub paid: i64,
}

impl BudgetLine {
    pub fn y(&self, fen: &i64) -> String {
        model::yuan(*fen)
    }
    pub fn left(&self) -> String {
        model::yuan(self.planned.saturating_sub(self.committed))
    }
}

#[derive(Template)]
#[template(path = "admin/benefits/budgets.html")]
pub struct BudgetsPage {
    ctx: Ctx,
    year: i32,
    lines: Vec<BudgetLine>,
    units: Vec<OrgUnit>,
    categories: Vec<(&'static str, &'static str)>,
}

async fn budgets(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    let year = state.config.clock.now().year();
    let (lines, units) = db::run(&state.pool, move |conn| {
        let lines = service::budget_lines(conn, &user, year)?
            .into_iter()
            .map(|(b, unit, committed, paid)| BudgetLine {
                unit,
                category: model::category_label(&b.category).to_string(),
                planned: b.planned_fen,
                committed,
                paid,
            })
            .collect();
        let units: Vec<OrgUnit> = scope::managed_units(conn, &user)?
            .into_iter()
            .filter(|u| scope::may_grant_roles(&user, &u.path))
            .collect();
        Ok((lines, units))
    })
    .await?;
    render(&BudgetsPage {
        ctx,
        year,
        lines,
        units,
        categories: CATEGORIES.to_vec(),
    })
}

#[derive(Deserialize)]
pub struct BudgetForm {
    #[serde(default)]
    unit_id: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    amount: String,
}

/// Set a budget: admins anywhere, chairs within their subtree.
async fn set_budget(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    Form(f): Form<BudgetForm>,
) -> AppResult<HttpResponse> {
    let back = "/admin/benefits/budgets";
    let (Ok(unit_id), true) = (
        f.unit_id.parse::<i32>(),
        CATEGORIES.iter().any(|(c, _)| *c == f.category),
    ) else {
        return Ok(redirect_flash(back, "error", "请选择单位和类别"));
    };
    let amount = match service::parse_amount(&f.amount) {
        Ok(a) => a,
        Err(e) => return Ok(redirect_flash(back, "error", e)),
    };
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        service::set_budget(conn, &user, &actor, unit_id, &f.category, amount)
    })
    .await?;
    Ok(redirect_flash(back, "ok", "预算已保存"))
}

#[derive(Template)]
#[template(path = "admin/benefits/payouts.html")]
pub struct PayoutsPage {
    ctx: Ctx,
    rows: Vec<PayoutRow>,
    total: String,
}

fn require_finance(user: &User) -> AppResult<()> {
    if user.is_admin
        || user
            .roles
            .iter()
            .any(|g| g.role == crate::org::Role::Finance)
    {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

async fn payouts(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    require_finance(&user)?;
    let rows = db::run(&state.pool, move |conn| service::payout_rows(conn, &user)).await?;
    let total = model::yuan(rows.iter().map(|r| r.req.amount_fen).sum());
    render(&PayoutsPage { ctx, rows, total })
}

async fn pay(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    require_finance(&user)?;
    let ids: Vec<i32> = pairs
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let reference = pairs
        .iter()
        .find(|(k, _)| k == "reference")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if ids.is_empty() {
        return Ok(redirect_flash(
            "/admin/benefits/payouts",
            "error",
            "请勾选要标记为已发放的申请",
        ));
    }
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    match db::run(&state.pool, move |conn| {
        service::mark_paid(conn, &user, &actor, &ids, &reference)
    })
    .await
    {
        Ok(n) => Ok(redirect_flash(
            "/admin/benefits/payouts",
            "ok",
            &format!("已标记 {n} 笔为已发放"),
        )),
        Err(AppError::Validation(m)) => Ok(redirect_flash("/admin/benefits/payouts", "error", &m)),
        Err(e) => Err(e),
    }
}

async fn payouts_xlsx(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    require_finance(&user)?;
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let bytes = db::run(&state.pool, move |conn| {
        let rows = service::payout_rows(conn, &user)?;
        let members: Vec<i32> = rows.iter().map(|r| r.req.member_id).collect();
        crate::db::write_tx(conn, |conn| {
            crate::audit::record_export(
                conn,
                &actor,
                Some(user.unit_id),
                crate::audit::AuditAction::BenefitExportPayouts,
                ("benefit", None),
                &members,
            )
        })?;
        service::payout_xlsx(&rows)
    })
    .await?;
    let date = crate::web::beijing(&state.config.clock.now(), "%Y%m%d");
    let name = crate::web::url_encode(&format!("待发放清单-{date}.xlsx"));
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"payouts.xlsx\"; filename*=UTF-8''{name}"),
        ))
        .body(bytes))
}
