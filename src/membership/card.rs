//! 电子会员证: the member's card (`/me/card`) with a QR code that changes every 30 seconds,
//! signed with the server's secret so a screenshot stops working within a minute, and the
//! cadre's scan page (`/admin/card-check`), which says only whether the card is valid and the
//! member's status. The QR link starts with the configured public address, never with what a
//! request's headers claim. Opening the scan link (a GET anyone can send) only fills the form;
//! the cadre's POST checks the card and writes the audit row the member sees on /me/privacy.

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
        .route("/me/card/photo", web::get().to(photo))
        .route("/me/card/photo", web::post().to(upload_photo))
        .route("/admin/card-check", web::get().to(check))
        .route("/admin/card-check", web::post().to(check_post));
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
    /// What the QR code holds (also on the element, for a scanner that reads the page).
    link: String,
    /// The photo's version (its change time) when there is one.
    photo: Option<i64>,
    error: String,
}

async fn card(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    render(&card_page(&state, ctx, &user, String::new()).await?)
}

async fn card_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: &crate::auth::User,
    error: String,
) -> AppResult<CardPage> {
    let now = state.config.clock.now();
    let id = user.id;
    let (joined, photo) = db::run(&state.pool, move |conn| {
        Ok((
            super::joined_at(conn, id)?,
            super::model::photo_stamp(conn, id)?,
        ))
    })
    .await?;
    let status = Status::parse(&user.membership).unwrap_or(Status::Member);
    let code = code_for(&state.config.secret_key, user.id, now);
    let url = state
        .config
        .absolute(&format!("/admin/card-check?code={code}"));
    let (qr_path, side) = crate::web::qr_path(&url)?;
    Ok(CardPage {
        link: url.clone(),
        photo: photo.map(|t| t.and_utc().timestamp()),
        error,
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

/// The member's own card photo.
async fn photo(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    let id = user.id;
    let data = db::run(&state.pool, move |conn| super::model::photo(conn, id))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(crate::images::response(data))
}

/// Upload a card photo: decoded and re-encoded (nothing of the original file is kept).
async fn upload_photo(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    mut mp: crate::web::upload::MultipartForm,
) -> AppResult<HttpResponse> {
    let error = match mp.files.pop() {
        None => Some(
            mp.file_errors
                .first()
                .cloned()
                .unwrap_or_else(|| "请选择一张照片".into()),
        ),
        Some(f) => match crate::images::process(f.filename.clone(), f.data.clone()).await? {
            Err(m) => Some(m),
            Ok(p) => {
                let (id, now) = (user.id, state.config.clock.now());
                db::run(&state.pool, move |conn| {
                    super::model::put_photo(conn, id, &p.thumb, now)
                })
                .await?;
                None
            }
        },
    };
    match error {
        None => Ok(crate::web::redirect_flash("/me/card", "ok", "照片已更新")),
        Some(m) => {
            let page = card_page(&state, ctx, &user, m).await?;
            crate::web::render_status(&page, actix_web::http::StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

/// The number printed on the card.
pub fn member_number(id: i32) -> String {
    format!("ZJ{id:08}")
}

#[derive(Deserialize)]
pub struct CheckQuery {
    #[serde(default)]
    code: String,
    /// Scanning at an activity's entrance: a valid card also checks the member in.
    activity: Option<i32>,
}

#[derive(Template)]
#[template(path = "admin/membership/card_check.html")]
struct CheckPage {
    ctx: Ctx,
    code: String,
    /// None: nothing checked yet; Some(None): invalid; Some(Some(status)): valid card.
    result: Option<Option<Status>>,
    activity: Option<i32>,
    /// The check-in's outcome at an activity.
    checkin: String,
}

/// The scan link as a phone's camera opens it: the form, filled in with the code, and nothing
/// checked (a GET changes nothing, not even the audit log).
async fn check(
    ctx: Ctx,
    StaffUser(user): StaffUser,
    q: web::Query<CheckQuery>,
) -> AppResult<HttpResponse> {
    if !checks_cards(&user) {
        return Err(AppError::Forbidden);
    }
    render(&CheckPage {
        ctx,
        code: code_of(&q.code),
        result: None,
        activity: q.activity,
        checkin: String::new(),
    })
}

/// The cadre's check: the card's validity and status, audited, and at an activity's entrance
/// the check-in — a change, so it goes through CSRF like every other.
async fn check_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    crate::auth::csrf::Form(q): crate::auth::csrf::Form<CheckQuery>,
) -> AppResult<HttpResponse> {
    if !checks_cards(&user) {
        return Err(AppError::Forbidden);
    }
    let (code, activity) = (code_of(&q.code), q.activity);
    if code.is_empty() {
        return render(&CheckPage {
            ctx,
            code,
            result: None,
            activity,
            checkin: String::new(),
        });
    }
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let (secret, c) = (state.config.secret_key.clone(), code.clone());
    let (result, checkin) = db::run(&state.pool, move |conn| {
        check_card(conn, &user, &actor, &secret, &c, activity)
    })
    .await?;
    render(&CheckPage {
        ctx,
        code,
        result: Some(result),
        activity,
        checkin,
    })
}

/// Cards are checked by cadres and chairs (and administrators), not by finance.
fn checks_cards(user: &crate::auth::User) -> bool {
    !crate::org::scope::manage_prefixes(user).is_some_and(|p| p.is_empty())
}

/// The code in what was scanned or pasted: a phone's camera hands over the whole link, whose
/// `code=` part it is.
fn code_of(scanned: &str) -> String {
    let raw = scanned.trim();
    let raw = raw.rsplit_once("code=").map_or(raw, |(_, c)| c);
    raw.split('&')
        .next()
        .unwrap_or("")
        .chars()
        .take(100)
        .collect()
}

/// Check a card's code: the member's status when the code is good (`None` when not), and,
/// scanning at `activity`, the check-in's outcome. The check and its audit row are one
/// transaction.
pub fn check_card(
    conn: &mut crate::db::DbConnection,
    user: &crate::auth::User,
    actor: &Actor,
    secret: &[u8],
    code: &str,
    activity: Option<i32>,
) -> AppResult<(Option<Status>, String)> {
    let Some(id) = verify(secret, code, actor.now) else {
        return Ok((None, String::new()));
    };
    crate::db::write_tx(conn, |conn| {
        let Some(m) = crate::members::model::find(conn, id)? else {
            return Ok((None, String::new()));
        };
        crate::audit::record(
            conn,
            actor,
            Some(m.unit_id),
            AuditAction::CardCheck,
            ("member", Some(m.id)),
            "",
        )?;
        let status = if m.disabled {
            Status::Left
        } else {
            Status::parse(&m.status).unwrap_or(Status::Member)
        };
        let checkin = match activity {
            Some(a) if status.uses_services() => {
                match crate::activities::service::check_in_card(conn, user, actor, a, m.id) {
                    Ok(msg) => msg.to_string(),
                    Err(AppError::Validation(msg)) => msg,
                    Err(e) => return Err(e),
                }
            }
            _ => String::new(),
        };
        Ok((Some(status), checkin))
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
