//! The staff home (`/`), the personal centre (`/me`), the section landing pages that later
//! features fill, the admin overview (`/admin`) and `/healthz`.

pub mod metrics;

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::connection::SimpleConnection;

use crate::auth::user::StaffUser;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::org::scope;
use crate::state::AppState;
use crate::web::{render, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/me", web::get().to(me))
        .route("/me/large-text", web::post().to(set_large_text))
        .route("/services", web::get().to(services))
        .route("/admin", web::get().to(admin_home))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics::metrics));
}

/// A service tile; `href` is None until the feature ships.
pub struct Service {
    pub name: &'static str,
    pub desc: &'static str,
    pub icon: &'static str,
    pub href: Option<&'static str>,
}

pub fn services_list() -> Vec<Service> {
    vec![
        Service {
            name: "维权申诉",
            desc: "劳动报酬、工时休假等问题，可匿名反映",
            icon: "维",
            href: Some("/grievances"),
        },
        Service {
            name: "普惠慰问",
            desc: "生日、结婚、生育、住院等慰问申请",
            icon: "惠",
            href: Some("/benefits"),
        },
        Service {
            name: "困难帮扶",
            desc: "困难职工帮扶、金秋助学",
            icon: "帮",
            href: Some("/benefits"),
        },
        Service {
            name: "调研问卷",
            desc: "参与工会调研与投票",
            icon: "调",
            href: Some("/surveys"),
        },
        Service {
            name: "职代会提案",
            desc: "代表提案、附议、办理答复与评价",
            icon: "提",
            href: Some("/proposals"),
        },
        Service {
            name: "主席信箱",
            desc: "给工会主席写信，可匿名",
            icon: "信",
            href: Some("/mailbox"),
        },
        Service {
            name: "电子会员证",
            desc: "出示会员证，查看会籍和会费",
            icon: "证",
            href: Some("/me/card"),
        },
        Service {
            name: "风采展示",
            desc: "劳模风采、活动剪影、才艺展示",
            icon: "风",
            href: Some("/showcase"),
        },
        Service {
            name: "修改密码",
            desc: "定期修改密码更安全",
            icon: "密",
            href: Some("/me/password"),
        },
    ]
}

#[derive(Template)]
#[template(path = "home/index.html")]
pub struct HomePage {
    ctx: Ctx,
    services: Vec<Service>,
    greeting: &'static str,
    /// My cases still moving (open, or answered and waiting for my rating).
    my_cases: Vec<crate::grievances::model::Grievance>,
    /// Mandatory notices I have not opened, first on the page.
    must_read: Vec<crate::news::model::ArticleCard>,
    latest: Vec<crate::news::model::ArticleCard>,
    /// Featured showcase posts (the latest approved when none are featured).
    featured: Vec<crate::showcase::model::Post>,
    /// Activities I can still sign up for (window open, not signed up).
    joinable: Vec<crate::activities::model::Activity>,
    /// Open surveys I have not answered.
    surveys: Vec<crate::surveys::model::Survey>,
}

fn greeting(hour: u32) -> &'static str {
    match hour {
        5..=10 => "早上好",
        11..=12 => "中午好",
        13..=17 => "下午好",
        _ => "晚上好",
    }
}

async fn home(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    // Beijing time for the greeting (UTC+8, no daylight saving).
    let hour = crate::time::beijing_hour(&state.config.clock.now());
    let now = state.config.clock.now();
    let (my_cases, must_read, latest, featured, joinable, surveys) =
        db::run(&state.pool, move |conn| {
            let cases = crate::grievances::model::for_member(conn, user.id)?
                .into_iter()
                .filter(|g| g.is_open() || g.is_answered())
                .take(5)
                .collect();
            let slots = crate::org::scope::path_slots(&user);
            let must = crate::news::model::unread_mandatory(conn, user.id, slots, now)?;
            let (latest, _) = crate::news::model::listing(conn, slots, now, None, 6, 0)?;
            let featured = crate::showcase::model::featured(conn, 4)?;
            let joinable = crate::activities::model::joinable(conn, slots, user.id, now, 3)?;
            let surveys = crate::surveys::model::unanswered(conn, user.id, slots, now, 3)?;
            Ok((cases, must, latest, featured, joinable, surveys))
        })
        .await?;
    render(&HomePage {
        ctx,
        services: services_list(),
        greeting: greeting(hour),
        my_cases,
        must_read,
        latest,
        featured,
        joinable,
        surveys,
    })
}

#[derive(Template)]
#[template(path = "home/me.html")]
pub struct MePage {
    ctx: Ctx,
    employee_no: String,
    roles: Vec<(String, &'static str)>,
}

async fn me(ctx: Ctx, CurrentUser(user): CurrentUser) -> AppResult<HttpResponse> {
    let roles = user
        .roles
        .iter()
        .map(|g| (g.unit_name.clone(), g.role.label()))
        .collect();
    render(&MePage {
        employee_no: user.employee_no.clone(),
        roles,
        ctx,
    })
}

#[derive(serde::Deserialize)]
pub struct LargeTextForm {
    #[serde(default)]
    on: String,
}

/// Switch 长辈版 on or off for this account.
async fn set_large_text(
    state: web::Data<crate::state::AppState>,
    CurrentUser(user): CurrentUser,
    crate::auth::csrf::Form(f): crate::auth::csrf::Form<LargeTextForm>,
) -> AppResult<HttpResponse> {
    let on = f.on == "1";
    crate::db::run(&state.pool, move |conn| {
        crate::members::model::set_large_text(conn, user.id, on)
    })
    .await?;
    Ok(crate::web::redirect_flash(
        "/me",
        "ok",
        if on {
            "已开启长辈版"
        } else {
            "已恢复标准字体"
        },
    ))
}

#[derive(Template)]
#[template(path = "home/section.html")]
pub struct SectionPage {
    ctx: Ctx,
    title: &'static str,
    empty_title: &'static str,
    empty_text: &'static str,
}

#[derive(Template)]
#[template(path = "home/services.html")]
pub struct ServicesPage {
    ctx: Ctx,
    services: Vec<Service>,
}

async fn services(ctx: Ctx, CurrentUser(_): CurrentUser) -> AppResult<HttpResponse> {
    render(&ServicesPage {
        ctx,
        services: services_list(),
    })
}

#[derive(Template)]
#[template(path = "admin/index.html")]
pub struct AdminHomePage {
    ctx: Ctx,
    inbox_count: i64,
    member_count: i64,
    unit_count: usize,
    roles: Vec<(String, &'static str)>,
}

async fn admin_home(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
) -> AppResult<HttpResponse> {
    let roles = user
        .roles
        .iter()
        .map(|g| (g.unit_name.clone(), g.role.label()))
        .collect();
    let (member_count, unit_count, inbox_count) = db::run(&state.pool, move |conn| {
        let units = scope::managed_units(conn, &user)?;
        let ids: Option<Vec<i32>> = (!user.is_admin).then(|| units.iter().map(|u| u.id).collect());
        let n = crate::members::service::count_in(conn, ids.as_deref())?;
        let inbox = crate::grievances::model::open_count(conn, ids.as_deref(), user.id)?;
        Ok((n, units.len(), inbox))
    })
    .await?;
    render(&AdminHomePage {
        ctx,
        inbox_count,
        member_count,
        unit_count,
        roles,
    })
}

/// For a load balancer: 503 once the instance is stopping (it still finishes what it has),
/// else the database check of /healthz. While migrations run the instance is not listening yet.
async fn readyz(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    if state.stopping.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("stopping"));
    }
    healthz(state).await
}

async fn healthz(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    db::run(&state.pool, |conn| {
        conn.batch_execute("SELECT 1").map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok"))
}
