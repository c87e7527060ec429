//! 我的数据被谁看过 (/me/privacy): a member's own view of the audit log — who (name and role)
//! opened their record, a named case, a sensitive benefit request, a letter they signed, their
//! membership application or transfer, checked their card, or exported a list that named them;
//! when (the day) and what. Anonymous cases and letters are never linked to the member, so
//! their views cannot appear here.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use super::{action_label, AuditEntry};
use crate::auth::user::CurrentUser;
use crate::db::schema::{
    audit_log, audit_subjects, benefit_requests, grievances, membership_applications, roles,
};
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

/// What of the member's the log knows by its own reference, and the rows naming the member
/// as their subject.
struct Refs {
    cases: Vec<String>,
    requests: Vec<String>,
    applications: Vec<String>,
    named: Vec<i32>,
}

fn refs_of(conn: &mut DbConnection, member_id: i32) -> AppResult<Refs> {
    let ids = |v: Vec<i32>| v.iter().map(i32::to_string).collect::<Vec<_>>();
    Ok(Refs {
        cases: grievances::table
            .filter(grievances::member_id.eq(member_id))
            .filter(grievances::anonymous.eq(false))
            .select(grievances::public_ref)
            .load(conn)?,
        requests: ids(benefit_requests::table
            .filter(benefit_requests::member_id.eq(member_id))
            .select(benefit_requests::id)
            .load(conn)?),
        // Read before approval too, when the applicant had no account to name yet.
        applications: ids(membership_applications::table
            .filter(membership_applications::member_id.eq(member_id))
            .select(membership_applications::id)
            .load(conn)?),
        named: audit_subjects::table
            .filter(audit_subjects::member_id.eq(member_id))
            .select(audit_subjects::audit_id)
            .load(conn)?,
    })
}

/// The newest 200 accesses by others to the member's personal data.
pub fn accesses(conn: &mut DbConnection, member_id: i32) -> AppResult<Vec<Access>> {
    use crate::audit::AuditAction as A;
    let me = member_id.to_string();
    let refs = refs_of(conn, member_id)?;
    let rows: Vec<AuditEntry> = audit_log::table
        .filter(
            audit_log::actor_id
                .ne(member_id)
                .or(audit_log::actor_id.is_null()),
        )
        .filter(
            audit_log::action
                .eq_any([A::MemberView, A::CardCheck])
                .and(audit_log::object_id.eq(&me))
                .or(audit_log::action
                    .eq(A::GrievanceView)
                    .and(audit_log::object_id.eq_any(&refs.cases)))
                .or(audit_log::action
                    .eq(A::BenefitViewDetails)
                    .and(audit_log::object_id.eq_any(&refs.requests)))
                .or(audit_log::action
                    .eq(A::MembershipView)
                    .and(audit_log::object_id.eq_any(&refs.applications)))
                .or(audit_log::id.eq_any(&refs.named)),
        )
        .order(audit_log::id.desc())
        .limit(200)
        .select(AuditEntry::as_select())
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let role = match r.actor_id {
            Some(a) => role_labels(conn, a)?,
            None => String::new(),
        };
        let label = action_label(&r.action);
        out.push(Access {
            day: crate::web::date_of(&r.at),
            who: r.actor_name.clone(),
            role,
            what: if r.detail.is_empty() {
                label.to_string()
            } else {
                format!("{label}（{}）", r.detail)
            },
        });
    }
    Ok(out)
}

fn role_labels(conn: &mut DbConnection, member_id: i32) -> AppResult<String> {
    let mut labels: Vec<&'static str> = roles::table
        .filter(roles::member_id.eq(member_id))
        .select(roles::role)
        .load::<crate::org::Role>(conn)?
        .iter()
        .map(|r| r.label())
        .collect();
    labels.dedup();
    Ok(labels.join("、"))
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
