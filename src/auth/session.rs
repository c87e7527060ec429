//! Server-side sessions in the database: shared by every instance, revocable at once.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::sessions;
use crate::db::DbConnection;
use crate::error::AppResult;

pub const COOKIE: &str = "zj_session";

/// The session cookie a sign-in sets (password or WeCom/WeChat menu alike): a fresh id every
/// time, HttpOnly, Lax, Secure when the portal is served over HTTPS.
pub fn cookie(token: String, secure: bool) -> actix_web::cookie::Cookie<'static> {
    let mut c = actix_web::cookie::Cookie::new(COOKIE, token);
    c.set_path("/");
    c.set_http_only(true);
    c.set_secure(secure);
    c.set_same_site(actix_web::cookie::SameSite::Lax);
    c
}

/// Idle and absolute lifetimes: cadres (anyone with a role, and admins) get the shorter ones.
pub fn lifetimes(is_staff: bool) -> (Duration, Duration) {
    if is_staff {
        (Duration::minutes(15), Duration::minutes(8 * 60))
    } else {
        (Duration::minutes(30), Duration::hours(12))
    }
}

/// Seen-at updates are written at most this often, to keep reads from becoming writes.
const TOUCH_EVERY_SECS: i64 = 60;

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub member_id: i32,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub idle_secs: i32,
    pub expires_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct NewSession<'a> {
    id: &'a str,
    member_id: i32,
    created_at: NaiveDateTime,
    last_seen_at: NaiveDateTime,
    idle_secs: i32,
    expires_at: NaiveDateTime,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
}

/// Create a session and return its bearer token (only its hash is stored).
pub fn create(
    conn: &mut DbConnection,
    member_id: i32,
    is_staff: bool,
    now: NaiveDateTime,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> AppResult<String> {
    let token = super::random_token(32);
    let (idle, absolute) = lifetimes(is_staff);
    let ua: Option<String> = user_agent.map(|u| u.chars().take(200).collect());
    diesel::insert_into(sessions::table)
        .values(NewSession {
            id: &super::hash_token(&token),
            member_id,
            created_at: now,
            last_seen_at: now,
            idle_secs: idle.num_seconds() as i32,
            expires_at: crate::time::plus(now, absolute),
            ip,
            user_agent: ua.as_deref(),
        })
        .execute(conn)?;
    Ok(token)
}

/// The live session for a token, refreshing its seen-at time; expired sessions are deleted.
pub fn load(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
) -> AppResult<Option<Session>> {
    let id = super::hash_token(token);
    let Some(s) = crate::on_backend!(conn, c => sessions::table
        .find(&id)
        .select(Session::as_select())
        .first(c)
        .optional())?
    else {
        return Ok(None);
    };
    let idle_deadline =
        crate::time::plus(s.last_seen_at, Duration::seconds(i64::from(s.idle_secs)));
    if now >= s.expires_at || now >= idle_deadline {
        diesel::delete(sessions::table.find(&id)).execute(conn)?;
        return Ok(None);
    }
    if now.signed_duration_since(s.last_seen_at).num_seconds() >= TOUCH_EVERY_SECS {
        diesel::update(sessions::table.find(&id))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some(s))
}

/// A read-only look at a session: `Ok(None)` when there is none, `Err(())`-like `None` inside
/// when it must be written (expired → delete, or due for its once-a-minute touch).
pub fn peek(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
) -> AppResult<Option<Option<Session>>> {
    let id = super::hash_token(token);
    let Some(s) = crate::on_backend!(conn, c => sessions::table
        .find(&id)
        .select(Session::as_select())
        .first(c)
        .optional())?
    else {
        return Ok(None);
    };
    let idle_deadline =
        crate::time::plus(s.last_seen_at, Duration::seconds(i64::from(s.idle_secs)));
    if now >= s.expires_at
        || now >= idle_deadline
        || now.signed_duration_since(s.last_seen_at).num_seconds() >= TOUCH_EVERY_SECS
    {
        return Ok(Some(None));
    }
    Ok(Some(Some(s)))
}

pub fn delete(conn: &mut DbConnection, session_id: &str) -> AppResult<()> {
    diesel::delete(sessions::table.find(session_id)).execute(conn)?;
    Ok(())
}

/// Revoke every session of a member (account disabled, password reset or changed).
pub fn delete_for_member(conn: &mut DbConnection, member_id: i32) -> AppResult<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::member_id.eq(member_id))).execute(conn)?)
}

/// Revoke every session of a member except one (after a password change, keep the current one).
pub fn delete_others(conn: &mut DbConnection, member_id: i32, keep: &str) -> AppResult<usize> {
    Ok(diesel::delete(
        sessions::table
            .filter(sessions::member_id.eq(member_id))
            .filter(sessions::id.ne(keep)),
    )
    .execute(conn)?)
}

/// Delete sessions past their absolute expiry (housekeeping).
pub fn purge_expired(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)?)
}
