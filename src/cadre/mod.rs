//! Pages that span features for cadres: the inbox of everything awaiting them. It reads each
//! feature only through that feature's service functions.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::user::StaffUser;
use crate::db;
use crate::error::AppResult;
use crate::grievances::model::CaseFilter;
use crate::grievances::service::CaseRow;
use crate::state::AppState;
use crate::web::{render, Ctx, Pager};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/inbox", web::get().to(inbox));
}

#[derive(Template)]
#[template(path = "admin/inbox.html")]
pub struct InboxPage {
    ctx: Ctx,
    /// Open grievances in the cadre's reach, overdue first.
    rows: Vec<CaseRow>,
    pager: Pager,
    /// Benefit requests whose current step is the user's to decide.
    benefits: Vec<crate::benefits::service::Row>,
}

async fn inbox(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<CaseFilter>,
) -> AppResult<HttpResponse> {
    let filter = CaseFilter {
        page: q.page,
        ..CaseFilter::default()
    };
    let now = state.config.clock.now();
    let (rows, pager, benefits) = db::run(&state.pool, move |conn| {
        let (rows, pager, _) =
            crate::grievances::service::case_rows(conn, &user, &filter, true, now)?;
        let benefits = crate::benefits::service::awaiting_rows(conn, &user)?;
        Ok((rows, pager, benefits))
    })
    .await?;
    render(&InboxPage {
        ctx,
        rows,
        pager,
        benefits,
    })
}
