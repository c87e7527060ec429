//! 会员管理: membership status and its history, joining (入会), transfer between units (转会)
//! and the electronic member card. Each status change is a row in `membership_events`
//! (mirrored in `members.status` for quick checks); applications and transfers are cases on
//! the one transition path of `src/workflow/`.

pub mod admin_pages;
pub mod card;
pub mod demo;
pub mod dues;
pub mod join;
pub mod join_pages;
pub mod leave;
pub mod model;
pub mod stats;
pub mod transfer;
pub mod transfer_pages;

use actix_web::web;
use chrono::NaiveDateTime;

use crate::audit::{self, Actor, AuditAction};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

crate::text_enum! {
    /// A member's standing in the union. Stored in `members.status` and `membership_events`.
    pub enum Status {
        Applying = ("applying", "申请中"),
        Member = ("member", "会员"),
        Transferring = ("transferring", "转会中"),
        TransferredOut = ("transferred_out", "已转出"),
        Retired = ("retired", "退休保留会籍"),
        Left = ("left", "已退会"),
    }
}

impl Status {
    /// Only members and retired members who kept their membership use member services.
    pub fn uses_services(self) -> bool {
        matches!(self, Status::Member | Status::Retired)
    }

    /// Why a member in this status cannot use a service.
    pub fn why_not(self) -> String {
        match self {
            Status::Transferring => {
                "您正在办理转会（会籍状态：转会中），转入单位接收后即可继续使用会员服务。".into()
            }
            s => format!(
                "您的会籍状态为“{}”，暂不能使用会员服务。如有疑问请联系所在工会。",
                s.label()
            ),
        }
    }
}

/// Refuse a member service to a user whose membership does not allow it.
pub fn require_services(user: &crate::auth::User) -> AppResult<()> {
    match Status::parse(&user.membership) {
        Some(s) if !s.uses_services() => Err(AppError::Refused(s.why_not())),
        _ => Ok(()),
    }
}

/// Record a status change: one history row and the mirrored `members.status`, with its audit
/// row, in the caller's transaction.
pub fn set_status(
    conn: &mut DbConnection,
    actor: &Actor,
    member_id: i32,
    status: Status,
    unit_id: i32,
    note: &str,
) -> AppResult<()> {
    model::insert_event(conn, member_id, status, unit_id, actor.id, note, actor.now)?;
    model::set_member_status(conn, member_id, status, actor.now)?;
    audit::record(
        conn,
        actor,
        Some(unit_id),
        AuditAction::MembershipStatus,
        ("member", Some(member_id)),
        &format!(
            "{}{}{note}",
            status.label(),
            if note.is_empty() { "" } else { "：" }
        ),
    )
}

/// When the member first became a member (the first "member" row of their history).
pub fn joined_at(conn: &mut DbConnection, member_id: i32) -> AppResult<Option<NaiveDateTime>> {
    model::first_at(conn, member_id, Status::Member)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    join_pages::routes(cfg);
    transfer_pages::routes(cfg);
    card::routes(cfg);
    admin_pages::routes(cfg);
}
