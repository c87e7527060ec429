//! Page plumbing shared by every feature: the page context (user, CSRF token, flash), rendering,
//! redirects with flash messages, pagination, embedded assets and the site-wide middleware.

pub mod assets;
pub mod markdown;
pub mod middleware;
pub mod quota;
pub mod upload;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::User;
use crate::error::{AppError, AppResult};

pub const FLASH_COOKIE: &str = "zj_flash";

#[derive(Debug, Clone)]
pub struct Flash {
    /// "ok" or "error"; used as a CSS class.
    pub kind: String,
    pub message: String,
}

/// "Are you sure?" before a destructive step: any feature's confirmation page.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub ctx: Ctx,
    pub title: String,
    pub message: String,
    pub action: String,
    pub button: String,
    pub back: String,
}

/// Everything the layout needs: who is looking, the CSRF token for forms, a flash message.
pub struct Ctx {
    pub user: Option<Arc<User>>,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub path: String,
}

impl Ctx {
    pub fn logged_in(&self) -> bool {
        self.user.is_some()
    }

    pub fn is_staff(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_staff())
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_admin)
    }

    pub fn user_name(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.name.as_str())
    }

    pub fn unread(&self) -> i64 {
        self.user.as_ref().map_or(0, |u| u.unread)
    }

    /// 长辈版 is on for this member.
    pub fn large_text(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.large_text)
    }

    pub fn unit_name(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.unit_label.as_str())
    }

    /// Content-hashed URL of an embedded static file.
    pub fn asset(&self, name: &str) -> String {
        assets::url(name)
    }

    /// Whether a nav entry is the current section ("/" only matches itself).
    pub fn active(&self, prefix: &str) -> bool {
        if prefix == "/" {
            self.path == "/"
        } else {
            self.path == prefix || self.path.starts_with(&format!("{prefix}/"))
        }
    }

    pub fn user(&self) -> AppResult<&Arc<User>> {
        self.user.as_ref().ok_or(AppError::Unauthorized {
            next: self.path.clone(),
        })
    }
}

impl FromRequest for Ctx {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = crate::auth::user::user_of(&req).await?;
            let csrf = crate::auth::csrf::expected_token(&req).await?;
            let flash = req
                .cookie(FLASH_COOKIE)
                .and_then(|c| decode_flash(c.value()));
            Ok(Ctx {
                user,
                csrf,
                flash,
                path: req.path().to_string(),
            })
        })
    }
}

/// Render a page with status 200.
pub fn render<T: Template>(page: &T) -> AppResult<HttpResponse> {
    render_status(page, StatusCode::OK)
}

/// Render a page with a given status (422 for a form with errors).
pub fn render_status<T: Template>(page: &T, status: StatusCode) -> AppResult<HttpResponse> {
    let body = page.render()?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(body))
}

/// 303 to `to` with a flash message shown on the next page.
pub fn redirect_flash(to: &str, kind: &str, message: &str) -> HttpResponse {
    let value = encode_flash(kind, message);
    let mut cookie = actix_web::cookie::Cookie::new(FLASH_COOKIE, value);
    cookie.set_path("/");
    cookie.set_http_only(true);
    cookie.set_same_site(actix_web::cookie::SameSite::Lax);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location(to)))
        .cookie(cookie)
        .finish()
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location(to)))
        .finish()
}

/// A `Location` value: bytes beyond ASCII (a Chinese search in a return path) and controls
/// percent-encoded, as a browser would; a raw one makes no valid header at all.
fn location(to: &str) -> String {
    let mut out = String::with_capacity(to.len());
    for b in to.bytes() {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn encode_flash(kind: &str, message: &str) -> String {
    hex(format!("{kind}\n{message}").as_bytes())
}

fn decode_flash(value: &str) -> Option<Flash> {
    if !value.len().is_multiple_of(2) || value.len() > 2000 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..value.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(value.get(i..i.saturating_add(2))?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (kind, message) = text.split_once('\n')?;
    let kind = if kind == "ok" { "ok" } else { "error" };
    Some(Flash {
        kind: kind.into(),
        message: message.into(),
    })
}

/// A local path safe to redirect to after login: after dropping tab, CR and LF (browsers drop
/// them too), a single `/` followed by something other than `/` or `\`; anything else is `/`.
pub fn safe_next(next: Option<&str>) -> String {
    let n: String = next
        .unwrap_or_default()
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let mut chars = n.chars();
    let ok = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !n.chars().any(|c| c.is_control() || c == '\\');
    if ok {
        n
    } else {
        "/".to_string()
    }
}

/// Client address for the audit log (X-Forwarded-For from the load balancer, else the peer).
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    let trusted = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|s| s.config.trusted_proxies.as_slice())
        .unwrap_or_default();
    client_addr(req.peer_addr().map(|a| a.ip()), req.headers(), trusted).map(|a| a.to_string())
}

/// The client's address: the connection's peer, unless the peer is a trusted proxy; then the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy (the left part of
/// the header is whatever the client chose to send).
pub fn client_addr(
    peer: Option<std::net::IpAddr>,
    headers: &actix_web::http::header::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut hops: Vec<std::net::IpAddr> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(v) = v.to_str() else {
            return Some(peer);
        };
        for part in v.split(',') {
            match part.trim().parse() {
                Ok(ip) => hops.push(ip),
                Err(_) => return Some(peer),
            }
        }
    }
    Some(
        hops.into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer),
    )
}

/// Counts failures per key (a client address) in this instance's memory, and blocks a key
/// after too many within a window. Nothing is written anywhere: anonymous follow-ups leave no
/// trace. Several instances each keep their own count. At most `CAPACITY` keys are kept: when
/// full, expired keys go first, then the oldest.
pub struct RateLimiter {
    max: u32,
    window: std::time::Duration,
    hits: std::sync::Mutex<std::collections::HashMap<String, (u32, std::time::Instant)>>,
}

impl RateLimiter {
    pub const CAPACITY: usize = 10_000;

    pub fn new(max: u32, window: std::time::Duration) -> Self {
        RateLimiter {
            max,
            window,
            hits: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    pub fn blocked(&self, key: &str) -> bool {
        let Ok(map) = self.hits.lock() else {
            return false;
        };
        map.get(key)
            .is_some_and(|(n, since)| *n >= self.max && since.elapsed() < self.window)
    }

    pub fn fail(&self, key: &str) {
        let Ok(mut map) = self.hits.lock() else {
            return;
        };
        if map.len() >= Self::CAPACITY && !map.contains_key(key) {
            map.retain(|_, (_, since)| since.elapsed() < self.window);
            if map.len() >= Self::CAPACITY {
                let oldest = map
                    .iter()
                    .min_by_key(|(_, (_, since))| *since)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    map.remove(&k);
                }
            }
        }
        let e = map
            .entry(key.to_string())
            .or_insert((0, std::time::Instant::now()));
        if e.1.elapsed() >= self.window {
            *e = (0, std::time::Instant::now());
        }
        e.0 = e.0.saturating_add(1);
    }

    /// Keys held now (at most `CAPACITY`).
    pub fn len(&self) -> usize {
        self.hits.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub use crate::forms::{FieldErrors, Pager};
pub use crate::text::{clean_search, to_halfwidth, url_encode};
pub use crate::time::{beijing, date_of};

/// A QR code for `text` as one SVG path (one square per dark module, inside a 4-module quiet
/// zone) and its side in modules without the zone.
pub fn qr_path(text: &str) -> AppResult<(String, usize)> {
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| crate::error::AppError::Internal(format!("qr: {e}")))?;
    let side = code.width();
    let mut path = String::new();
    for (y, row) in code.to_colors().chunks(side.max(1)).enumerate() {
        for (x, c) in row.iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (x, y) = (x.saturating_add(4), y.saturating_add(4));
                path.push_str(&format!("M{x} {y}h1v1h-1z"));
            }
        }
    }
    Ok((path, side))
}
