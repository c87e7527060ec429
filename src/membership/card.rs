//! 电子会员证: the member's card (`/me/card`) with a QR code that changes every 30 seconds,
//! signed with the server's secret so a screenshot stops working within a minute, and the
//! cadre's scan page (`/admin/card-check`), which says only whether the card is valid and the
//! member's status.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::Status;
use crate::audit::{Actor, AuditAction};
use crate::auth::user::StaffUser;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{client_ip, render, Ctx};

/// A code changes every this many seconds.
pub const WINDOW_SECS: i64 = 30;

fn window_of(now: NaiveDateTime) -> i64 {
    now.and_utc().timestamp().div_euclid(WINDOW_SECS)
}

fn mac(secret: &[u8], member_id: i32, window: i64) -> String {
    let full = crate::auth::digest(&[
        b"zhijia-card",
        secret,
        &member_id.to_le_bytes(),
        &window.to_le_bytes(),
    ]);
    full.chars().take(20).collect()
}

/// The card's code at `now`: "ZJC1.{member}.{window}.{mac}".
pub fn code_for(secret: &[u8], member_id: i32, now: NaiveDateTime) -> String {
    let w = window_of(now);
    format!("ZJC1.{member_id}.{w}.{}", mac(secret, member_id, w))
}

/// The member behind a code made in this window or the one before (so under a minute old),
/// `None` for an old, future, malformed or forged code.
pub fn verify(secret: &[u8], code: &str, now: NaiveDateTime) -> Option<i32> {
    let mut parts = code.trim().split('.');
    if parts.next() != Some("ZJC1") {
        return None;
    }
    let member: i32 = parts.next()?.parse().ok()?;
    let w: i64 = parts.next()?.parse().ok()?;
    let m = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let age = window_of(now).checked_sub(w)?;
    if !(0..=1).contains(&age) {
        return None;
    }
    crate::auth::constant_time_eq(m, &mac(secret, member, w)).then_some(member)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/card", web::get().to(card))
        .route("/admin/card-check", web::get().to(check));
}

#[derive(Template)]
#[template(path = "membership/card.html")]
struct CardPage {
    ctx: Ctx,
    name: String,
    unit: String,
    number: String,
    joined: String,
    status: Status,
    qr_path: String,
    qr_side: usize,
}

async fn card(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let id = user.id;
    let joined = db::run(&state.pool, move |conn| super::joined_at(conn, id)).await?;
    let status = Status::parse(&user.membership).unwrap_or(Status::Member);
    let code = code_for(&state.config.secret_key, user.id, now);
    let info = req.connection_info();
    let url = format!(
        "{}://{}/admin/card-check?code={code}",
        info.scheme(),
        info.host()
    );
    let (qr_path, side) = crate::web::qr_path(&url)?;
    render(&CardPage {
        name: user.name.clone(),
        unit: user.unit_label.clone(),
        number: member_number(user.id),
        joined: joined.map_or_else(|| "—".into(), |t| crate::time::beijing(&t, "%Y年%m月%d日")),
        status,
        qr_path,
        qr_side: side.saturating_add(8),
        ctx,
    })
}

/// The number printed on the card.
pub fn member_number(id: i32) -> String {
    format!("ZJ{id:08}")
}

#[derive(Deserialize)]
pub struct CheckQuery {
    #[serde(default)]
    code: String,
}

#[derive(Template)]
#[template(path = "admin/membership/card_check.html")]
struct CheckPage {
    ctx: Ctx,
    code: String,
    /// None: nothing checked yet; Some(None): invalid; Some(Some(status)): valid card.
    result: Option<Option<Status>>,
}

async fn check(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<CheckQuery>,
) -> AppResult<HttpResponse> {
    let code = q.code.trim().chars().take(100).collect::<String>();
    if code.is_empty() {
        return render(&CheckPage {
            ctx,
            code,
            result: None,
        });
    }
    let now = state.config.clock.now();
    let actor = Actor::user(&user, client_ip(&req), now);
    let member = verify(&state.config.secret_key, &code, now);
    let result = db::run(&state.pool, move |conn| {
        let Some(id) = member else {
            return Ok(None);
        };
        let Some(m) = crate::members::model::find(conn, id)? else {
            return Ok(None);
        };
        crate::audit::record(
            conn,
            &actor,
            Some(m.unit_id),
            AuditAction::CardCheck,
            ("member", Some(m.id)),
            "",
        )?;
        if m.disabled {
            return Ok(Some(Status::Left));
        }
        Ok::<_, AppError>(Some(Status::parse(&m.status).unwrap_or(Status::Member)))
    })
    .await?;
    render(&CheckPage {
        ctx,
        code,
        result: Some(result),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default()
    }

    #[test]
    fn a_code_holds_for_under_a_minute_and_only_with_the_secret() {
        let t = 1_800_000_000; // a multiple of 30
        let code = code_for(b"s3cret", 42, at(t));
        assert_eq!(verify(b"s3cret", &code, at(t)), Some(42));
        assert_eq!(verify(b"s3cret", &code, at(t + 59)), Some(42));
        assert_eq!(verify(b"s3cret", &code, at(t + 60)), None, "a minute old");
        assert_eq!(verify(b"s3cret", &code, at(t - 1)), None, "from the future");
        assert_eq!(verify(b"other", &code, at(t)), None, "another secret");
        let forged = code.replacen(".42.", ".43.", 1);
        assert_eq!(verify(b"s3cret", &forged, at(t)), None, "another member");
        assert_eq!(verify(b"s3cret", "ZJC1.42.x.y", at(t)), None);
        assert_eq!(verify(b"s3cret", &format!("{code}.1"), at(t)), None);
    }
}
