//! Site-wide response rules: security headers, no-store on dynamic pages, the anonymous CSRF
//! anchor cookie, and clearing a flash message once a page has shown it.

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};

use crate::auth::csrf::{MintedPre, PRE_COOKIE};
use crate::auth::session;

use super::FLASH_COOKIE;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub async fn site(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let is_static = req.path().starts_with("/static/");
    let had_flash = req.cookie(FLASH_COOKIE).is_some();
    let secure = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .is_some_and(|s| s.config.secure_cookies);
    let minted = if !is_static
        && req.cookie(PRE_COOKIE).is_none()
        && req.cookie(session::COOKIE).is_none()
    {
        let value = crate::auth::random_token(20);
        req.extensions_mut().insert(MintedPre(value.clone()));
        Some(value)
    } else {
        None
    };

    let is_get = req.method() == actix_web::http::Method::GET
        && req.extensions().get::<HeadRequest>().is_none();
    let mut res = next.call(req).await?;

    let status = res.status();
    if is_get && status == actix_web::http::StatusCode::OK {
        record_page_event(res.request());
    }
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let sets_flash = headers
        .get_all(header::SET_COOKIE)
        .any(|v| v.to_str().is_ok_and(|s| s.starts_with(FLASH_COOKIE)));

    if let Some(value) = minted {
        let mut c = Cookie::new(PRE_COOKIE, value);
        c.set_path("/");
        c.set_http_only(true);
        c.set_secure(secure);
        c.set_same_site(SameSite::Lax);
        res.response_mut().add_cookie(&c)?;
    }
    if had_flash && !sets_flash && !status.is_redirection() {
        let mut c = Cookie::new(FLASH_COOKIE, "");
        c.set_path("/");
        c.make_removal();
        res.response_mut().add_cookie(&c)?;
    }
    if secure {
        secure_every_cookie(res.headers_mut());
    }
    Ok(res)
}

/// Behind HTTPS (`--secure-cookies`): every cookie this response sets is `Secure` (session,
/// CSRF anchor, flash, removals), and browsers are told to use HTTPS from now on.
fn secure_every_cookie(headers: &mut actix_web::http::header::HeaderMap) {
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for v in cookies {
        let secured = v.to_str().ok().and_then(|s| {
            if s.split(';')
                .any(|p| p.trim().eq_ignore_ascii_case("secure"))
            {
                None
            } else {
                HeaderValue::from_str(&format!("{s}; Secure")).ok()
            }
        });
        headers.append(header::SET_COOKIE, secured.unwrap_or(v));
    }
}

/// The access log: `address "METHOD path" status bytes time`, at info level. Grievance
/// submission and receipt follow-up are never logged: an address and a time next to an
/// anonymous case would trace it back to its member. (A prefix check instead of actix's
/// `Logger::exclude_regex`, whose regex ran on every request: ~2 % of a page's CPU.)
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if !log::log_enabled!(log::Level::Info) || !is_logged(req.method(), req.path()) {
        return next.call(req).await;
    }
    let start = std::time::Instant::now();
    let line = format!(
        "{} \"{} {}\"",
        req.connection_info().realip_remote_addr().unwrap_or("-"),
        req.method(),
        req.uri()
    );
    let res = next.call(req).await?;
    let bytes = match res.response().body().size() {
        actix_web::body::BodySize::Sized(n) => n.to_string(),
        _ => "-".into(),
    };
    log::info!(
        "{line} {} {bytes} {:.3}ms",
        res.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    Ok(res)
}

/// Whether a request goes into the access log: never anonymous grievance paths, survey answers
/// (an anonymous survey's answers would be ordered like the access log's lines; the log cannot
/// tell which surveys are anonymous, so no answer is logged), or health checks.
fn is_logged(method: &actix_web::http::Method, path: &str) -> bool {
    path != "/healthz" && !may_be_anonymous(method, path)
}

/// A request that may come from a member who must stay anonymous: neither logged nor counted.
fn may_be_anonymous(method: &actix_web::http::Method, path: &str) -> bool {
    let post = method == actix_web::http::Method::POST;
    (post && path.starts_with("/surveys/"))
        || path.starts_with("/grievances/new")
        || path.starts_with("/grievances/track")
        // A letter to the chair may be anonymous: its post and its receipt look-ups are not
        // logged with an address and a time.
        || (post && path == "/mailbox")
        || path.starts_with("/mailbox/track")
}

/// Views and clicks of logged-in members (see `engagement::page_event` for which pages count).
fn record_page_event(req: &actix_web::HttpRequest) {
    let Some(user) = crate::auth::user::loaded_user(req) else {
        return;
    };
    let referer = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok());
    let Some((object, action)) = crate::engagement::page_event(req.path(), referer) else {
        return;
    };
    let state = req.app_data::<actix_web::web::Data<crate::state::AppState>>();
    let events = req.app_data::<actix_web::web::Data<crate::engagement::EventBuffer>>();
    if let (Some(state), Some(events)) = (state, events) {
        let now = state.config.clock.now();
        events.record(&user, req, object, action, now);
    }
}

/// A panic anywhere below (extractor, handler, template, a `db::run` closure) costs this one
/// request a 500 page with a reference number, which the log line carries with the panic
/// message; the worker keeps serving. Release builds unwind for this (`panic = "unwind"`).
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, Error> {
    use futures_util::FutureExt;
    use std::panic::AssertUnwindSafe;
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| next.call(req))) {
        Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
        Err(payload) => Err(payload),
    };
    match outcome {
        Ok(res) => res.map(ServiceResponse::map_into_left_body),
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            let res =
                actix_web::ResponseError::error_response(&crate::error::AppError::Panic(message));
            // The request went into the unwound call (and cannot be cloned before routing), so
            // the response carries a stand-in; the middleware outside reads only the response.
            let http = actix_web::test::TestRequest::default().to_http_request();
            Ok(ServiceResponse::new(http, res).map_into_right_body())
        }
    }
}

/// The text of a panic payload (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn anonymous_grievance_paths_are_never_access_logged() {
        use actix_web::http::Method;
        for p in [
            "/grievances/new",
            "/grievances/new?anonymous=1",
            "/grievances/track",
            "/grievances/track/ABC",
            "/healthz",
        ] {
            assert!(!super::is_logged(&Method::GET, p), "{p}");
        }
        assert!(!super::is_logged(&Method::POST, "/surveys/7"));
        assert!(super::is_logged(&Method::GET, "/surveys/7"));
        assert!(
            !super::is_logged(&Method::POST, "/mailbox"),
            "a letter may be anonymous"
        );
        assert!(!super::is_logged(&Method::POST, "/mailbox/track"));
        assert!(super::is_logged(&Method::GET, "/mailbox"));
        for p in [
            "/",
            "/news",
            "/grievances",
            "/grievances/12",
            "/admin/grievances/3",
        ] {
            assert!(super::is_logged(&Method::GET, p), "{p}");
        }
    }
}

/// Requests and latency by route for `/metrics`, only when an operator set a metrics token
/// (off by default: then this costs nothing).
pub async fn metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let registry = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .filter(|s| s.config.metrics_token.is_some())
        .map(|s| s.metrics.clone());
    // Not the routes the access log leaves out either: counts by time would date an anonymous
    // grievance, letter or survey answer to the scrape interval.
    let Some(registry) = registry.filter(|_| !may_be_anonymous(req.method(), req.path())) else {
        return next.call(req).await;
    };
    let start = std::time::Instant::now();
    // A label from a fixed set: any other method name (actix accepts any token) is "other",
    // so requests cannot grow the label set without bound.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS") => m,
        _ => "other",
    }
    .to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".into());
    registry.request(&route, &method, res.status().as_u16(), start.elapsed());
    Ok(res)
}

/// Marks a `HEAD` request answered as a `GET` (it is not a page view).
#[derive(Clone, Copy)]
pub struct HeadRequest;

/// Pages a `HEAD` may ask for: the ones monitors and balancers probe, whose GET changes
/// nothing. Some GETs do change something (a one-time password file is used up, an OAuth code
/// spent, a view counted), and a HEAD sent ahead of a download would spend them unseen.
fn head_allowed(path: &str) -> bool {
    matches!(
        path,
        "/" | "/healthz" | "/readyz" | "/login" | "/join" | "/services"
    ) || path.starts_with("/static/")
}

/// `HEAD` on the pages above answers like `GET` with the same status and headers and no body
/// (the routes are registered for GET only, so it was a 404); elsewhere 405 with `Allow`.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, Error> {
    if req.method() != actix_web::http::Method::HEAD {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    if !head_allowed(req.path()) {
        let res = actix_web::HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "GET, POST"))
            .finish();
        return Ok(req.into_response(res));
    }
    req.head_mut().method = actix_web::http::Method::GET;
    req.extensions_mut().insert(HeadRequest);
    let res = next.call(req).await?;
    // No body and no length (`()` would claim a length of 0, which a HEAD must not).
    Ok(res.map_body(|_, _| actix_web::body::BoxBody::new(actix_web::body::None::new())))
}
