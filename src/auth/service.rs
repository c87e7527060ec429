//! Login throttling, session start and end, and the one-time first-run setup.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::db::schema::{login_throttle, settings};
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::members::model as members;

/// Failures allowed per account before each further attempt has to wait.
pub const FREE_FAILURES: i32 = 5;
/// Failures allowed per client address across accounts (password spraying). Generous, because
/// a whole factory can share one NAT address.
pub const ADDRESS_FREE_FAILURES: i32 = 50;
const MAX_DELAY_SECS: i64 = 15 * 60;
/// A counter row with no failure for this long starts again from zero and is purged.
const ACCOUNT_EXPIRY_HOURS: i64 = 24;
const ADDRESS_EXPIRY_HOURS: i64 = 1;
/// Longer than any employee number or phone number typed with spaces.
pub const MAX_IDENTIFIER_CHARS: usize = 64;

/// After `free` failures the wait doubles from 30 s up to 15 min.
pub fn delay_after(failures: i32) -> Duration {
    delay_beyond(failures, FREE_FAILURES)
}

fn delay_beyond(failures: i32, free: i32) -> Duration {
    if failures < free {
        return Duration::zero();
    }
    let exp = failures.saturating_sub(free).clamp(0, 10).unsigned_abs();
    Duration::seconds(
        30i64
            .checked_shl(exp)
            .unwrap_or(MAX_DELAY_SECS)
            .min(MAX_DELAY_SECS),
    )
}

/// Normalised form of what was typed in the account box.
pub fn normalize_identifier(raw: &str) -> String {
    let s = crate::text::to_halfwidth(raw).trim().to_string();
    match crate::members::service::normalize_phone(&s) {
        Ok(Some(p)) => p,
        _ => s,
    }
}

/// What the login form needs to verify a password: (member id, hash, disabled).
pub type LoginAccount = Option<(i32, Option<String>, bool)>;

/// Whether a password may be checked now.
#[derive(Debug)]
pub enum Attempt {
    /// The attempt is reserved (counted as a failure until the password proves right).
    Go(LoginAccount),
    /// Too many failures: seconds to wait.
    Wait(i64),
}

/// Reserve one login attempt before the password hash is computed, so parallel attempts
/// cannot all be checked: the account's counter (by member, whichever of employee number or
/// phone was typed; by the typed text for unknown accounts) and the client address's counter
/// each take one step with a compare-and-swap. A success clears the account's counter.
pub fn reserve_attempt(
    conn: &mut DbConnection,
    identifier: &str,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<Attempt> {
    // A first insert racing another on PostgreSQL fails on the primary key: try again.
    let mut last_err = None;
    for _ in 0..5 {
        match write_tx(conn, |conn| reserve_in(conn, identifier, ip, now)) {
            Err(AppError::Database(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            ))) => {
                last_err = Some(info.message().to_string());
            }
            other => return other,
        }
    }
    Err(AppError::Internal(format!(
        "login throttle contention: {}",
        last_err.unwrap_or_default()
    )))
}

fn reserve_in(
    conn: &mut DbConnection,
    identifier: &str,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<Attempt> {
    let account = members::find_for_login(conn, identifier)?;
    if let Some(ip) = ip {
        let key = format!("a:{ip}");
        let wait = take(conn, &key, ADDRESS_FREE_FAILURES, ADDRESS_EXPIRY_HOURS, now)?;
        if wait > 0 {
            return Ok(Attempt::Wait(wait));
        }
    }
    let key = account_key(identifier, account.as_ref().map(|a| a.0));
    let wait = take(conn, &key, FREE_FAILURES, ACCOUNT_EXPIRY_HOURS, now)?;
    if wait > 0 {
        return Ok(Attempt::Wait(wait));
    }
    Ok(Attempt::Go(account))
}

fn account_key(identifier: &str, member: Option<i32>) -> String {
    match member {
        Some(id) => format!("m:{id}"),
        None => format!("i:{identifier}"),
    }
}

/// One step of a counter: 0 when the step was taken, else the seconds to wait.
fn take(
    conn: &mut DbConnection,
    key: &str,
    free: i32,
    expiry_hours: i64,
    now: NaiveDateTime,
) -> AppResult<i64> {
    for _ in 0..8 {
        let row: Option<(i32, NaiveDateTime)> = login_throttle::table
            .find(key)
            .select((login_throttle::failures, login_throttle::last_failed_at))
            .first(conn)
            .optional()?;
        let Some((failures, last)) = row else {
            diesel::insert_into(login_throttle::table)
                .values((
                    login_throttle::identifier.eq(key),
                    login_throttle::failures.eq(1),
                    login_throttle::last_failed_at.eq(now),
                ))
                .execute(conn)?;
            return Ok(0);
        };
        let expired = now.signed_duration_since(last) > Duration::hours(expiry_hours);
        let counted = if expired { 0 } else { failures };
        let wait = last
            .checked_add_signed(delay_beyond(counted, free))
            .map_or(0, |until| until.signed_duration_since(now).num_seconds());
        if wait > 0 {
            return Ok(wait);
        }
        let swapped = diesel::update(
            login_throttle::table
                .find(key)
                .filter(login_throttle::failures.eq(failures))
                .filter(login_throttle::last_failed_at.eq(last)),
        )
        .set((
            login_throttle::failures.eq(counted.saturating_add(1)),
            login_throttle::last_failed_at.eq(now),
        ))
        .execute(conn)?;
        if swapped == 1 {
            return Ok(0);
        }
    }
    // Lost the race eight times in a row: ask this one to try again shortly.
    Ok(1)
}

/// Audit a failed attempt (same path for unknown accounts and wrong passwords); the attempt
/// was already counted by `reserve_attempt`.
pub fn record_failure(
    conn: &mut DbConnection,
    identifier: &str,
    ip: Option<String>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let shown: String = identifier.chars().take(40).collect();
    write_tx(conn, |conn| {
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
            crate::audit::AuditAction::LoginFailed,
            ("account", None),
            &shown,
        )
    })
}

/// Drop throttle counters that have expired (run by the background job).
pub fn purge_throttle(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    let cutoff = now
        .checked_sub_signed(Duration::hours(
            ACCOUNT_EXPIRY_HOURS.max(ADDRESS_EXPIRY_HOURS),
        ))
        .unwrap_or(now);
    Ok(
        diesel::delete(login_throttle::table.filter(login_throttle::last_failed_at.lt(cutoff)))
            .execute(conn)?,
    )
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
        diesel::delete(login_throttle::table.find(account_key(identifier, Some(member_id))))
            .execute(conn)?;
        // The address's step is given back: only failures count against an address (a whole
        // factory behind one NAT logs in every morning).
        if let Some(ip) = ip.as_deref() {
            #[allow(clippy::arithmetic_side_effects)] // `failures - 1` builds SQL
            diesel::update(
                login_throttle::table
                    .find(format!("a:{ip}"))
                    .filter(login_throttle::failures.gt(0)),
            )
            .set(login_throttle::failures.eq(login_throttle::failures - 1))
            .execute(conn)?;
        }
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
            crate::audit::AuditAction::LoginSuccess,
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
            crate::audit::AuditAction::Logout,
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
            crate::audit::AuditAction::SetupAdmin,
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
            crate::audit::AuditAction::SetupAdmin,
            ("member", Some(id)),
            name,
        )?;
        Ok(id)
    })
}
