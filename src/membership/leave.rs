//! Leaving: a retiring member keeps their membership (退休保留会籍) or leaves (退会); leaving
//! disables the account. After the retention period the administrator sets (default three
//! years) the background job replaces the member's personal data with a placeholder, keeping
//! the statistics and the cases' history. Every step is audited.

use chrono::NaiveDateTime;

use super::Status;
use crate::audit::{Actor, AuditAction};
use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};

/// The settings key of the retention period, in years.
pub const RETENTION_KEY: &str = "membership.retention_years";
pub const DEFAULT_RETENTION_YEARS: u32 = 3;

pub fn retention_years(conn: &mut DbConnection) -> AppResult<u32> {
    Ok(crate::settings::get_u32(conn, RETENTION_KEY)?
        .filter(|y| (1..=30).contains(y))
        .unwrap_or(DEFAULT_RETENTION_YEARS))
}

/// The administrator sets the retention period (1–30 years).
pub fn set_retention(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    years: &str,
) -> AppResult<u32> {
    if !user.is_admin {
        return Err(AppError::Forbidden);
    }
    let y: u32 = years
        .trim()
        .parse()
        .ok()
        .filter(|y| (1..=30).contains(y))
        .ok_or_else(|| AppError::field("years", "保留年限请填写 1 到 30 之间的整数"))?;
    write_tx(conn, |conn| {
        crate::settings::set(conn, RETENTION_KEY, &y.to_string(), actor.now)?;
        crate::audit::record(
            conn,
            actor,
            None,
            AuditAction::SettingsChange,
            ("settings", None),
            &format!("退会会员个人信息保留 {y} 年"),
        )?;
        Ok(y)
    })
}

/// A cadre over the member records retirement keeping membership (`keep`) or leaving.
pub fn retire_or_leave(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    member_id: i32,
    keep: bool,
    note: &str,
) -> AppResult<Status> {
    if member_id == user.id {
        return Err(AppError::Validation("不能为自己办理退休或退会".into()));
    }
    let note = crate::text::clean(note);
    if note.chars().count() > 200 {
        return Err(AppError::field("note", "说明请控制在 200 字以内"));
    }
    write_tx(conn, |conn| {
        let (m, unit) = crate::members::service::load_in_scope(conn, user, member_id)?;
        let status = Status::parse(&m.status);
        let allowed = if keep {
            status == Some(Status::Member)
        } else {
            matches!(status, Some(Status::Member | Status::Retired))
        };
        if !allowed || m.disabled {
            return Err(AppError::Validation(format!(
                "会籍状态为“{}”，不能办理",
                status.map_or("未知", Status::label)
            )));
        }
        let (to, audit) = if keep {
            (Status::Retired, AuditAction::MemberRetire)
        } else {
            (Status::Left, AuditAction::MemberLeave)
        };
        let from: &[Status] = if keep {
            &[Status::Member]
        } else {
            &[Status::Member, Status::Retired]
        };
        if !super::model::swap_status(conn, m.id, from, to, actor.now)? {
            return Err(AppError::Conflict(crate::workflow::CONFLICT.into()));
        }
        super::set_status(conn, actor, m.id, to, unit.id, &note)?;
        if !keep {
            crate::members::model::set_disabled(conn, m.id, true, actor.now)?;
            crate::auth::session::delete_for_member(conn, m.id)?;
            // No more messages: bindings go (a WeCom userid may be given to someone else),
            // consent is withdrawn on the record, and what waits is not sent.
            crate::outbox::model::forget(conn, m.id, actor.now)?;
        }
        crate::audit::record(
            conn,
            actor,
            Some(unit.id),
            audit,
            ("member", Some(m.id)),
            &m.employee_no,
        )?;
        Ok(to)
    })
}

/// The retention job: anonymise members who left longer ago than the period. Returns how many.
pub fn run_retention(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    let years = retention_years(conn)?;
    let days = i64::from(years).saturating_mul(365);
    let cutoff = crate::time::minus(now, chrono::Duration::days(days));
    let due = super::model::left_before(conn, cutoff)?;
    let mut done = 0usize;
    // One transaction each; one that fails is logged and the others still go.
    for id in &due {
        let res = write_tx(conn, |conn| {
            super::model::anonymise(conn, *id, now)?;
            crate::audit::record(
                conn,
                &Actor::system("会籍保留期到期", now),
                None,
                AuditAction::MemberAnonymise,
                ("member", Some(*id)),
                &format!("退会满 {years} 年"),
            )
        });
        match res {
            Ok(()) => done = done.saturating_add(1),
            Err(e) => log::error!("retention of member {id} failed: {e}"),
        }
    }
    // Applicants who never became members: the same period after their application's end.
    let stale = super::model::stale_applications(conn, cutoff)?;
    for app in &stale {
        let res = write_tx(conn, |conn| {
            super::model::anonymise_application(conn, app)?;
            crate::audit::record(
                conn,
                &Actor::system("会籍保留期到期", now),
                None,
                AuditAction::MemberAnonymise,
                ("membership_application", Some(app.0)),
                &format!("入会申请办结满 {years} 年"),
            )
        });
        match res {
            Ok(()) => done = done.saturating_add(1),
            Err(e) => log::error!("retention of application {} failed: {e}", app.0),
        }
    }
    Ok(done)
}
