//! The audit log page: admins see everything, cadres the rows of units in their scope.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::{action_label, AuditAction, AuditEntry, AuditFilter};
use crate::auth::user::StaffUser;
use crate::db;
use crate::error::AppResult;
use crate::org::scope;
use crate::state::AppState;
use crate::web::{render, url_encode, Ctx, Pager};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/audit", web::get().to(list));
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    ctx: Ctx,
    rows: Vec<AuditEntry>,
    pager: Pager,
    filter: AuditFilter,
    actions: Vec<(&'static str, &'static str)>,
    query_base: String,
}

impl AuditPage {
    fn label<'a>(&self, action: &'a str) -> &'a str {
        action_label(action)
    }
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<AuditFilter>,
) -> AppResult<HttpResponse> {
    let filter = q.into_inner();
    let f2 = filter.clone();
    let (rows, pager) = db::run(&state.pool, move |conn| {
        let ids = scope::managed_unit_ids(conn, &user)?;
        super::search(conn, &f2, ids.as_deref(), 30)
    })
    .await?;
    let query_base = format!(
        "actor={}&action={}&from={}&to={}",
        url_encode(&filter.actor),
        url_encode(&filter.action),
        url_encode(&filter.from),
        url_encode(&filter.to)
    );
    render(&AuditPage {
        ctx,
        rows,
        pager,
        filter,
        actions: AuditAction::ALL
            .iter()
            .map(|a| (a.as_str(), a.label()))
            .collect(),
        query_base,
    })
}
