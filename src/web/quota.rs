//! Write quotas: every POST route that inserts rows a member or a stranger can repeat has a
//! quota here, or is listed in `EXEMPT` with the reason. One middleware enforces them for the
//! whole site, so a new route cannot skip it (a test walks the route table in the source).
//! Counts live in the database (`write_quotas`), so they hold across instances. A signed-in
//! member is counted per member; a stranger per address (members share a company's NAT
//! address, so counting them per address would lock out a whole site).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::write_quotas as q;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// One route's quota: at most `max` POSTs per `window_secs` per member (or per address for a
/// request without a session).
pub struct Quota {
    pub route: &'static str,
    pub max: i32,
    pub window_secs: i64,
}

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

const fn quota(route: &'static str, max: i32, window_secs: i64) -> Quota {
    Quota {
        route,
        max,
        window_secs,
    }
}

/// Routes (as registered, with `{}` placeholders) and their quotas.
pub const QUOTAS: &[Quota] = &[
    quota("/mailbox", 10, DAY),
    quota("/mailbox/track", 60, HOUR),
    quota("/grievances/new", 10, DAY),
    quota("/grievances/{case}/act", 60, HOUR),
    quota("/grievances/track", 60, HOUR),
    quota("/grievances/track/act", 30, HOUR),
    quota("/grievances/track/attachment", 30, HOUR),
    quota("/benefits/apply/{item}", 20, DAY),
    quota("/benefits/requests/{id}/withdraw", 30, DAY),
    quota("/benefits/requests/{id}/resubmit", 30, DAY),
    quota("/comments/{id}/report", 30, HOUR),
    quota("/news/{id}/comments", 30, HOUR),
    quota("/showcase/new", 10, DAY),
    quota("/showcase/{id}/like", 200, HOUR),
    quota("/showcase/{id}/comments", 30, HOUR),
    quota("/activities/{id}/signup", 60, HOUR),
    quota("/activities/{id}/cancel", 60, HOUR),
    quota("/activities/{id}/rate", 60, HOUR),
    quota("/activities/{id}/checkin", 60, HOUR),
    quota("/surveys/{id}", 60, HOUR),
    quota("/proposals/new", 20, DAY),
    quota("/proposals/{id}", 120, HOUR),
    quota("/me/card/photo", 20, DAY),
    quota("/me/membership/transfer", 10, DAY),
    quota("/me/channels/consent", 20, DAY),
    quota("/me/channels/email", 10, DAY),
    quota("/me/channels/email/confirm", 30, DAY),
    quota("/me/channels/bind", 20, DAY),
    quota("/me/membership/transfer/{id}/cancel", 10, DAY),
    quota("/join", 20, DAY),
    quota("/join/status", 60, HOUR),
    quota("/join/status/resubmit", 10, DAY),
    quota("/admin/members/import", 30, HOUR),
    quota("/admin/members/import/{token}", 30, HOUR),
    quota("/admin/membership/dues", 30, HOUR),
    // Each one is a real message through a paid channel.
    quota("/admin/settings/channels/test", 20, HOUR),
];

/// POST routes without a quota, and why.
pub const EXEMPT: &[(&str, &str)] = &[
    (
        "/login",
        "failed attempts are throttled per account and per address in auth::service",
    ),
    ("/logout", "ends the caller's own session"),
    ("/setup", "one-time token: works once, then never again"),
    (
        "/me/password",
        "updates the member's own row; wrong current passwords are throttled like logins",
    ),
    ("/me/large-text", "updates the member's own setting"),
    (
        "/me/channels",
        "updates the member's own preferences and quiet hours",
    ),
    (
        "/me/channels/{channel}/unbind",
        "removes the member's own binding",
    ),
    (
        "/notifications/read-all",
        "updates the member's own notifications",
    ),
    (
        "/admin/",
        "staff-only steps: role- and scope-checked, every one audited under the cadre's name",
    ),
];

fn find(route: &str) -> Option<&'static Quota> {
    QUOTAS.iter().find(|q| q.route == route)
}

/// The middleware: a POST to a route with a quota takes one unit of it first, else 429.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    // The pattern of the path the router will see (percent-decoded): `/%6Dailbox` is
    // `/mailbox` to the router, so it must be to the quota too.
    let quota = (req.method() == actix_web::http::Method::POST)
        .then(|| {
            req.request()
                .resource_map()
                .match_pattern(req.match_info().as_str())
        })
        .flatten()
        .and_then(|p| find(&p));
    let Some(quota) = quota else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let user = crate::auth::user::user_of(req.request()).await?;
    let who = match &user {
        Some(u) => format!("m{}", u.id),
        None => format!(
            "a{}",
            crate::web::client_ip(req.request()).unwrap_or_default()
        ),
    };
    // A keyed digest, not the member's id: the row must not say who wrote an anonymous letter.
    let key = crate::auth::digest(&[
        &state.config.secret_key,
        b"quota",
        who.as_bytes(),
        quota.route.as_bytes(),
    ]);
    let now = state.config.clock.now();
    let (max, window) = (
        quota.max.saturating_mul(state.config.quota_scale.max(1)),
        quota.window_secs,
    );
    let taken = crate::db::run(&state.pool, move |conn| take(conn, &key, max, window, now)).await?;
    match taken {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(wait_secs) => {
            let e = AppError::TooManyRequests(refusal(quota, wait_secs));
            let res = actix_web::ResponseError::error_response(&e);
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}

/// The refusal in words: the limit and when to try again.
fn refusal(q: &Quota, wait_secs: i64) -> String {
    let per = if q.window_secs >= DAY {
        "每天"
    } else {
        "每小时"
    };
    let wait = if wait_secs >= HOUR {
        format!("{} 小时", wait_secs.div_euclid(HOUR).saturating_add(1))
    } else {
        format!("{} 分钟", wait_secs.div_euclid(60).saturating_add(1))
    };
    format!(
        "这项操作{per}最多 {} 次，已达上限，请 {wait}后再试。",
        q.max
    )
}

/// The start of the fixed window `now` falls in (the hour, or the day): a quota row never holds
/// the moment of a write, which could place an anonymous letter.
fn window_of(now: NaiveDateTime, window_secs: i64) -> NaiveDateTime {
    let secs = now.and_utc().timestamp();
    let start = secs.saturating_sub(secs.rem_euclid(window_secs.max(1)));
    chrono::DateTime::from_timestamp(start, 0).map_or(now, |t| t.naive_utc())
}

/// Take one unit of `key`'s quota: Ok(Ok) if there was room, Ok(Err(seconds to wait)) if not.
/// Conditional updates only, so two instances racing cannot both take the last unit.
pub fn take(
    conn: &mut DbConnection,
    key: &str,
    max: i32,
    window_secs: i64,
    now: NaiveDateTime,
) -> AppResult<Result<(), i64>> {
    let window = chrono::Duration::seconds(window_secs);
    let current = window_of(now, window_secs);
    // A row whose window started before the current one is stale.
    let cutoff = crate::time::minus(current, chrono::Duration::seconds(1));
    for _ in 0..4 {
        let room = diesel::update(
            q::table
                .filter(q::key.eq(key))
                .filter(q::window_start.gt(cutoff))
                .filter(q::count.lt(max)),
        )
        .set(q::count.eq(sql_increment()))
        .execute(conn)?;
        if room == 1 {
            return Ok(Ok(()));
        }
        let restarted = diesel::update(
            q::table
                .filter(q::key.eq(key))
                .filter(q::window_start.le(cutoff)),
        )
        .set((q::window_start.eq(current), q::count.eq(1)))
        .execute(conn)?;
        if restarted == 1 {
            return Ok(Ok(()));
        }
        let row: Option<(NaiveDateTime, i32)> = q::table
            .filter(q::key.eq(key))
            .select((q::window_start, q::count))
            .first(conn)
            .optional()?;
        match row {
            // Full for this window: refused until it ends.
            Some((start, count)) if start > cutoff && count >= max => {
                let ends = crate::time::plus(start, window);
                return Ok(Err(ends.signed_duration_since(now).num_seconds().max(1)));
            }
            // A racing request made the row in between: take from it on the next pass.
            Some(_) => continue,
            None => {}
        }
        let inserted = diesel::insert_into(q::table)
            .values((q::key.eq(key), q::window_start.eq(current), q::count.eq(1)))
            .execute(conn);
        match inserted {
            Ok(_) => return Ok(Ok(())),
            // Another instance inserted it first: count against its row.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("请稍后再试".into()))
}

/// `count + 1` in SQL: it runs in the database, and `count < max` keeps it below i32::MAX.
#[allow(clippy::arithmetic_side_effects)]
fn sql_increment(
) -> diesel::dsl::Add<q::count, diesel::dsl::AsExprOf<i32, diesel::sql_types::Integer>> {
    q::count + 1
}

/// Drop windows that ended more than a day ago (background job).
pub fn sweep(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    let longest = QUOTAS.iter().map(|q| q.window_secs).max().unwrap_or(DAY);
    let cutoff = crate::time::minus(now, chrono::Duration::seconds(longest.saturating_add(DAY)));
    Ok(diesel::delete(q::table.filter(q::window_start.lt(cutoff))).execute(conn)?)
}

#[cfg(test)]
mod tests {
    //! The route walk: every POST route in the source has a quota or a stated exemption.

    /// (path, file) of every POST route registered under `src/` (`route(path, web::post()…)`).
    #[allow(clippy::unwrap_used)]
    fn post_routes() -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    let flat: String = text.split_whitespace().collect::<Vec<_>>().join("");
                    for part in flat.split(".route(\"").skip(1) {
                        let Some((path, rest)) = part.split_once('"') else {
                            continue;
                        };
                        if rest.starts_with(",web::post()") {
                            out.push((path.to_string(), p.display().to_string()));
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn every_post_route_has_a_quota_or_a_stated_exemption() {
        let routes = post_routes();
        assert!(routes.len() > 60, "the walk found {} routes", routes.len());
        let missing: Vec<_> = routes
            .iter()
            .filter(|(path, _)| {
                super::find(path).is_none()
                    && !super::EXEMPT
                        .iter()
                        .any(|(e, _)| path == e || (e.ends_with('/') && path.starts_with(e)))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "POST routes without a quota: {missing:?}"
        );
        // And no quota names a route that does not exist (a renamed route would lose it).
        for q in super::QUOTAS {
            assert!(
                routes.iter().any(|(p, _)| p == q.route),
                "quota for unknown route {}",
                q.route
            );
        }
    }
}
