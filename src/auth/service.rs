//! Login throttling, session start and end, and the one-time first-run setup.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::db::schema::{login_throttle, settings};
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::members::model as members;

/// Failures allowed before each further attempt has to wait.
pub const FREE_FAILURES: i32 = 5;
const MAX_DELAY_SECS: i64 = 15 * 60;

/// Throttling is per account identifier, never per IP: a whole factory shares one NAT address.
/// After 5 failures the wait doubles from 30 s up to 15 min; a success clears it.
pub fn delay_after(failures: i32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::zero();
    }
    let exp = failures.saturating_sub(FREE_FAILURES).min(10) as u32;
    Duration::seconds((30i64 << exp).min(MAX_DELAY_SECS))
}

/// Normalised form of what was typed in the account box.
pub fn normalize_identifier(raw: &str) -> String {
    let s = crate::web::to_halfwidth(raw).trim().to_string();
    match crate::members::service::normalize_phone(&s) {
        Ok(Some(p)) => p,
        _ => s,
    }
}

/// Seconds to wait before this identifier may try again (0: may try now).
pub fn wait_secs(conn: &mut DbConnection, identifier: &str, now: NaiveDateTime) -> AppResult<i64> {
    let row: Option<(i32, NaiveDateTime)> = login_throttle::table
        .find(identifier)
        .select((login_throttle::failures, login_throttle::last_failed_at))
        .first(conn)
        .optional()?;
    Ok(match row {
        None => 0,
        Some((failures, last)) => crate::time::plus(last, delay_after(failures))
            .signed_duration_since(now)
            .num_seconds()
            .max(0),
    })
}

/// What the login form needs to verify a password: (member id, hash, disabled).
pub fn lookup(
    conn: &mut DbConnection,
    identifier: &str,
) -> AppResult<Option<(i32, Option<String>, bool)>> {
    members::find_for_login(conn, identifier)
}

/// Record a failed attempt (same path for unknown accounts and wrong passwords).
#[allow(clippy::arithmetic_side_effects)] // `failures + 1` builds SQL; no Rust arithmetic happens
pub fn record_failure(
    conn: &mut DbConnection,
    identifier: &str,
    ip: Option<String>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let shown: String = identifier.chars().take(40).collect();
    write_tx(conn, |conn| {
        let updated = diesel::update(login_throttle::table.find(identifier))
            .set((
                login_throttle::failures.eq(login_throttle::failures + 1),
                login_throttle::last_failed_at.eq(now),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(login_throttle::table)
                .values((
                    login_throttle::identifier.eq(identifier),
                    login_throttle::failures.eq(1),
                    login_throttle::last_failed_at.eq(now),
                ))
                .execute(conn)?;
        }
        let actor = Actor {
            id: None,
            name: shown.clone(),
            ip,
            now,
        };
        audit::record(
            conn,
            &actor,
            None,
            "login.failed",
            ("account", None),
            &shown,
        )
    })
}

/// Start a session after a verified password: clears the throttle, audits, returns the token.
pub fn start_session(
    conn: &mut DbConnection,
    member_id: i32,
    identifier: &str,
    ip: Option<String>,
    user_agent: Option<String>,
    now: NaiveDateTime,
) -> AppResult<String> {
    write_tx(conn, |conn| {
        let user = super::user::load_user(conn, member_id, "")?.ok_or(AppError::NotFound)?;
        diesel::delete(login_throttle::table.find(identifier)).execute(conn)?;
        let token = super::session::create(
            conn,
            member_id,
            user.is_staff(),
            now,
            ip.as_deref(),
            user_agent.as_deref(),
        )?;
        let actor = Actor::user(&user, ip, now);
        audit::record(
            conn,
            &actor,
            Some(user.unit_id),
            "login.success",
            ("member", Some(member_id)),
            "",
        )?;
        Ok(token)
    })
}

pub fn end_session(conn: &mut DbConnection, user: &super::User, actor: &Actor) -> AppResult<()> {
    write_tx(conn, |conn| {
        super::session::delete(conn, &user.session_id)?;
        audit::record(
            conn,
            actor,
            Some(user.unit_id),
            "logout",
            ("member", Some(user.id)),
            "",
        )
    })
}

const SETUP_KEY: &str = "setup_token_hash";

/// On an empty install (no administrator), mint a one-time setup token and return it; its hash
/// is kept in `settings`. Returns None once an administrator exists.
pub fn ensure_setup_token(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> AppResult<Option<String>> {
    write_tx(conn, |conn| {
        if members::any_admin(conn)? {
            diesel::delete(settings::table.find(SETUP_KEY)).execute(conn)?;
            return Ok(None);
        }
        let token = super::random_token(20);
        let hash = super::hash_token(&token);
        diesel::delete(settings::table.find(SETUP_KEY)).execute(conn)?;
        diesel::insert_into(settings::table)
            .values((
                settings::key.eq(SETUP_KEY),
                settings::value.eq(&hash),
                settings::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(Some(token))
    })
}

/// Whether `token` is the live setup token.
pub fn setup_token_valid(conn: &mut DbConnection, token: &str) -> AppResult<bool> {
    let stored: Option<String> = settings::table
        .find(SETUP_KEY)
        .select(settings::value)
        .first(conn)
        .optional()?;
    Ok(stored.is_some_and(|h| super::constant_time_eq(&h, &super::hash_token(token))))
}

/// Input for the first administrator.
pub struct SetupInput {
    pub union_name: String,
    pub employee_no: String,
    pub name: String,
    pub password_hash: String,
}

/// Create the root union and the first administrator, once: the token dies in the same
/// transaction, and a second attempt finds no token (NotFound).
pub fn complete_setup(
    conn: &mut DbConnection,
    token: &str,
    input: &SetupInput,
    now: NaiveDateTime,
) -> AppResult<i32> {
    write_tx(conn, |conn| {
        if !setup_token_valid(conn, token)? || members::any_admin(conn)? {
            return Err(AppError::NotFound);
        }
        diesel::delete(settings::table.find(SETUP_KEY)).execute(conn)?;
        let actor = Actor::system("系统初始化", now);
        let units = crate::org::model::all(conn)?;
        let root = match units.into_iter().find(|u| u.parent_id.is_none()) {
            Some(r) => r,
            None => crate::org::service::create_root(conn, &actor, &input.union_name, "group")?,
        };
        let id = members::insert(
            conn,
            &members::NewMember {
                employee_no: &input.employee_no,
                phone: None,
                name: &input.name,
                unit_id: root.id,
                password_hash: Some(&input.password_hash),
                must_change_password: false,
                is_admin: true,
                disabled: false,
                created_at: now,
                updated_at: now,
            },
        )?;
        audit::record(
            conn,
            &actor,
            Some(root.id),
            "setup.admin",
            ("member", Some(id)),
            &input.name,
        )?;
        Ok(id)
    })
}

/// Create an administrator from the command line (`zhijia admin create`).
pub fn create_admin(
    conn: &mut DbConnection,
    employee_no: &str,
    name: &str,
    password_hash: &str,
    now: NaiveDateTime,
) -> AppResult<i32> {
    write_tx(conn, |conn| {
        if members::find_by_employee_no(conn, employee_no)?.is_some() {
            return Err(AppError::Validation(format!("工号 {employee_no} 已存在")));
        }
        let actor = Actor::system("命令行", now);
        let units = crate::org::model::all(conn)?;
        let root = match units.into_iter().find(|u| u.parent_id.is_none()) {
            Some(r) => r,
            None => crate::org::service::create_root(conn, &actor, "集团工会", "group")?,
        };
        let id = members::insert(
            conn,
            &members::NewMember {
                employee_no,
                phone: None,
                name,
                unit_id: root.id,
                password_hash: Some(password_hash),
                must_change_password: false,
                is_admin: true,
                disabled: false,
                created_at: now,
                updated_at: now,
            },
        )?;
        diesel::delete(settings::table.find(SETUP_KEY)).execute(conn)?;
        audit::record(
            conn,
            &actor,
            Some(root.id),
            "setup.admin",
            ("member", Some(id)),
            name,
        )?;
        Ok(id)
    })
}
