//! CSRF protection. The token is a MAC of the session id (or, before login, of a random
//! pre-session cookie) under the secret key, so it needs no storage and dies with the session.
//! `Form<T>` is the only way handlers read a POSTed form: it checks the token and the
//! Origin / Sec-Fetch-Site headers before the handler runs.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::AppError;
use crate::state::AppState;

/// Random per-browser cookie that anchors the CSRF token of anonymous forms (login, setup).
pub const PRE_COOKIE: &str = "zj_pre";

/// A pre-session value minted by the middleware for a browser that had none yet.
#[derive(Clone)]
pub struct MintedPre(pub String);

pub fn token_for_session(secret: &[u8], session_id: &str) -> String {
    super::digest(&[secret, b"csrf-session", session_id.as_bytes()])
}

pub fn token_for_pre(secret: &[u8], pre: &str) -> String {
    super::digest(&[secret, b"csrf-pre", pre.as_bytes()])
}

/// The token forms on this request must carry.
pub async fn expected_token(req: &HttpRequest) -> Result<String, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Internal("app state missing".into()))?
        .clone();
    let secret = &state.config.secret_key;
    if let Some(user) = super::user::user_of(req).await? {
        return Ok(token_for_session(secret, &user.session_id));
    }
    let pre = req
        .cookie(PRE_COOKIE)
        .map(|c| c.value().to_string())
        .or_else(|| req.extensions().get::<MintedPre>().map(|m| m.0.clone()))
        .unwrap_or_default();
    Ok(token_for_pre(secret, &pre))
}

/// Refuse cross-site form posts by their headers (browsers set these; tests may omit them).
pub fn check_origin(req: &HttpRequest) -> Result<(), AppError> {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site == "cross-site" {
            return Err(AppError::Csrf);
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = req.connection_info().host().to_string();
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(origin);
        if origin == "null" || origin_host != host {
            return Err(AppError::Csrf);
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct TokenField {
    #[serde(default)]
    csrf_token: String,
}

/// A url-encoded form whose CSRF token has been checked.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|_| AppError::Validation("提交的内容过大或格式不正确".into()))?;
            check_origin(&req)?;
            // NUL never belongs in a form, and PostgreSQL refuses it in text: a clear 422, not a 500.
            if body.contains(&0) || body.windows(3).any(|w| w == b"%00") {
                return Err(AppError::Validation("提交的内容含有非法字符".into()));
            }
            let sent: TokenField =
                serde_urlencoded::from_bytes(&body).map_err(|_| AppError::Csrf)?;
            let expected = expected_token(&req).await?;
            if sent.csrf_token.is_empty() || !super::constant_time_eq(&sent.csrf_token, &expected) {
                log::warn!("csrf check failed on {}", req.path());
                return Err(AppError::Csrf);
            }
            let value = serde_urlencoded::from_bytes(&body)
                .map_err(|_| AppError::Validation("提交的内容格式不正确，请返回重试".into()))?;
            Ok(Form(value))
        })
    }
}
