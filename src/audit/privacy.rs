//! 我的数据被谁看过 (/me/privacy): a member's own view of the audit log — who (name and role)
//! opened their record, a named case or a sensitive benefit request, or exported a list that
//! named them; when (the day) and what. Anonymous cases are never linked to the member, so their
//! views cannot appear here.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use super::{action_label, AuditEntry};
use crate::auth::user::CurrentUser;
use crate::db::schema::{audit_log, audit_subjects, benefit_requests, grievances, roles};
use crate::db::{self, DbConnection};
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::{render, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/privacy", web::get().to(show));
}

/// One line of the page.
pub struct Access {
    pub day: String,
    pub who: String,
    pub role: String,
    pub what: String,
}

/// The newest 200 accesses by others to the member's personal data.
pub fn accesses(conn: &mut DbConnection, member_id: i32) -> AppResult<Vec<Access>> {
    let me = member_id.to_string();
    let cases: Vec<String> = grievances::table
        .filter(grievances::member_id.eq(member_id))
        .filter(grievances::anonymous.eq(false))
        .select(grievances::public_ref)
        .load(conn)?;
    let requests: Vec<String> = benefit_requests::table
        .filter(benefit_requests::member_id.eq(member_id))
        .select(benefit_requests::id)
        .load::<i32>(conn)?
        .iter()
        .map(i32::to_string)
        .collect();
    let exports: Vec<i32> = audit_subjects::table
        .filter(audit_subjects::member_id.eq(member_id))
        .select(audit_subjects::audit_id)
        .load(conn)?;
    let rows: Vec<AuditEntry> = audit_log::table
        .filter(
            audit_log::actor_id
                .ne(member_id)
                .or(audit_log::actor_id.is_null()),
        )
        .filter(
            audit_log::action
                .eq(crate::audit::AuditAction::MemberView)
                .and(audit_log::object_id.eq(&me))
                .or(audit_log::action
                    .eq(crate::audit::AuditAction::GrievanceView)
                    .and(audit_log::object_id.eq_any(&cases)))
                .or(audit_log::action
                    .eq(crate::audit::AuditAction::BenefitViewDetails)
                    .and(audit_log::object_id.eq_any(&requests)))
                .or(audit_log::id.eq_any(&exports)),
        )
        .order(audit_log::id.desc())
        .limit(200)
        .select(AuditEntry::as_select())
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let role = match r.actor_id {
            Some(a) => {
                let mut labels: Vec<&'static str> = roles::table
                    .filter(roles::member_id.eq(a))
                    .select(roles::role)
                    .load::<crate::org::Role>(conn)?
                    .iter()
                    .map(|r| r.label())
                    .collect();
                labels.dedup();
                labels.join("、")
            }
            None => String::new(),
        };
        out.push(Access {
            day: crate::web::date_of(&r.at),
            who: r.actor_name.clone(),
            role,
            what: format!("{}（{}）", action_label(&r.action), r.detail),
        });
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "home/privacy.html")]
pub struct PrivacyPage {
    ctx: Ctx,
    rows: Vec<Access>,
}

async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    let id = user.id;
    let rows = db::run(&state.pool, move |conn| accesses(conn, id)).await?;
    render(&PrivacyPage { ctx, rows })
}
