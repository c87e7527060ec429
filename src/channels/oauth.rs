//! Sign-in from the WeCom and WeChat menus (OAuth 网页授权, `snsapi_base`): the menu opens
//! `/auth/{wecom|wechat}/start`, the provider sends the browser back to `…/callback` with a
//! one-time code, and a bound member gets the same session a password gives. The first time,
//! the member signs in once with employee number and password and confirms the binding.
//!
//! `state` is a MAC of a nonce kept in an HttpOnly cookie (a callback from another browser or
//! a forged link fails); a code is used once (`oauth_codes`); the return path is checked by
//! `safe_next`; the redirect address is built from `ZHIJIA_PUBLIC_URL` only.

use actix_web::cookie::{time::Duration as CookieAge, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::{digest, session, CurrentUser};
use crate::db;
use crate::error::{AppError, AppResult};
use crate::outbox::http::{code_text, get, Errcode, Tokens};
use crate::outbox::model;
use crate::outbox::Channel;
use crate::state::AppState;
use crate::web::{client_ip, redirect, redirect_flash, render, safe_next, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/{provider}/start", web::get().to(start))
        .route("/auth/{provider}/callback", web::get().to(callback))
        .route("/me/channels/bind", web::get().to(bind_form))
        .route("/me/channels/bind", web::post().to(bind));
}

/// The provider's sign-in page (opened by the browser, never fetched by the server).
pub const AUTHORIZE: &str = "https://open.weixin.qq.com/connect/oauth2/authorize";
const STATE_COOKIE: &str = "zj_oauth";
const BIND_COOKIE: &str = "zj_bind";
const TEN_MINUTES: i64 = 600;

/// The HTTP client and token cache of the sign-in handlers (one per instance).
pub struct Client {
    agent: ureq::Agent,
    tokens: Tokens,
    /// Callbacks per address: each may cost calls to the provider (shared quota).
    limiter: crate::web::RateLimiter,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            agent: crate::outbox::http::agent(std::time::Duration::from_secs(5)),
            tokens: Tokens::default(),
            limiter: crate::web::RateLimiter::new(20, std::time::Duration::from_secs(600)),
        }
    }
}

fn provider(state: &AppState, name: &str) -> AppResult<Channel> {
    let ch = Channel::parse(name).ok_or(AppError::NotFound)?;
    let on = match ch {
        Channel::Wecom => state.config.channels.wecom.is_some(),
        Channel::Wechat => state.config.channels.wechat.is_some(),
        _ => false,
    };
    if on {
        Ok(ch)
    } else {
        Err(AppError::NotFound)
    }
}

fn state_of(secret: &[u8], nonce: &str) -> String {
    digest(&[secret, b"oauth-state", nonce.as_bytes()])
        .chars()
        .take(32)
        .collect()
}

fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_path("/");
    c.set_http_only(true);
    c.set_secure(secure);
    // Lax: the provider's redirect back is a top-level GET, which carries it.
    c.set_same_site(SameSite::Lax);
    c.set_max_age(CookieAge::seconds(TEN_MINUTES));
    c
}

fn gone(name: &'static str) -> Cookie<'static> {
    let mut c = Cookie::new(name, "");
    c.set_path("/");
    c.make_removal();
    c
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

async fn start(
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<StartQuery>,
) -> AppResult<HttpResponse> {
    let ch = provider(&state, &path.into_inner())?;
    let nonce = crate::auth::random_token(16);
    let next = safe_next(q.next.as_deref());
    let st = state_of(&state.config.secret_key, &nonce);
    let back = crate::text::url_encode(&state.config.absolute(&format!("/auth/{ch}/callback")));
    let channels = &state.config.channels;
    let url = match (ch, &channels.wecom, &channels.wechat) {
        (Channel::Wecom, Some(w), _) => format!(
            "{AUTHORIZE}?appid={}&redirect_uri={back}&response_type=code&scope=snsapi_base&state={st}&agentid={}#wechat_redirect",
            crate::text::url_encode(&w.corp_id),
            w.agent_id
        ),
        (Channel::Wechat, _, Some(w)) => format!(
            "{AUTHORIZE}?appid={}&redirect_uri={back}&response_type=code&scope=snsapi_base&state={st}#wechat_redirect",
            crate::text::url_encode(&w.app_id)
        ),
        _ => return Err(AppError::NotFound),
    };
    let mut res = redirect(&url);
    // Encoded: a cookie value holds no `;`, no spaces and nothing beyond ASCII; a long return
    // path is not worth a cookie the browser would drop.
    let next = if next.len() > 512 {
        "/".to_string()
    } else {
        next
    };
    let kept = format!("{nonce}|{}", crate::text::url_encode(&next));
    res.add_cookie(&cookie(STATE_COOKIE, kept, state.config.secure_cookies))
        .map_err(|e| AppError::Internal(format!("cookie: {e}")))?;
    Ok(res)
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
}

const STALE: &str =
    "登录链接已失效或不是从本浏览器发起的，请从企业微信或公众号菜单重新打开职工之家";

/// The callback; whatever it comes to, the state cookie is used up.
async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: web::Data<Client>,
    path: web::Path<String>,
    q: web::Query<CallbackQuery>,
) -> HttpResponse {
    let mut res = match sign_in(req, state, client, path, q).await {
        Ok(r) => r,
        Err(e) => actix_web::ResponseError::error_response(&e),
    };
    if let Err(e) = res.add_cookie(&gone(STATE_COOKIE)) {
        log::warn!("oauth: cookie: {e}");
    }
    res
}

async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: web::Data<Client>,
    path: web::Path<String>,
    q: web::Query<CallbackQuery>,
) -> AppResult<HttpResponse> {
    let ch = provider(&state, &path.into_inner())?;
    let who = client_ip(&req).unwrap_or_default();
    if client.limiter.blocked(&who) {
        return Err(AppError::TooManyRequests(
            "登录尝试过于频繁，请十分钟后再从菜单打开".into(),
        ));
    }
    client.limiter.fail(&who);
    let (next, code) = checked(&req, &state, &q)?;
    let now = state.config.clock.now();
    let c2 = code.clone();
    if !db::run(&state.pool, move |conn| model::use_code(conn, &c2, now)).await? {
        return Err(AppError::Refused(
            "这个登录链接已经用过，请从菜单重新打开职工之家".into(),
        ));
    }
    let config = state.config.clone();
    let address = web::block(move || identify(&client, &config.channels, ch, &code))
        .await?
        .map_err(|e| {
            log::warn!("oauth {ch}: {e}");
            AppError::Refused("暂时无法确认您的身份，请稍后从菜单重新打开".into())
        })?;
    let a2 = address.clone();
    let member = db::run(&state.pool, move |conn| model::bound_member(conn, ch, &a2)).await?;
    match member {
        Some(member) => signed_in(&req, &state, member, ch, &next).await,
        None => to_binding(&state, ch, &address),
    }
}

/// The return path kept with the nonce and the code, once `state` matches and the code looks
/// like one.
fn checked(req: &HttpRequest, state: &AppState, q: &CallbackQuery) -> AppResult<(String, String)> {
    let kept = req
        .cookie(STATE_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let (nonce, next) = kept.split_once('|').unwrap_or(("", "/"));
    let next = serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("n={next}"))
        .ok()
        .and_then(|v| v.into_iter().next())
        .map_or_else(|| "/".to_string(), |(_, v)| v);
    let expected = state_of(&state.config.secret_key, nonce);
    if nonce.is_empty() || !crate::auth::constant_time_eq(&q.state, &expected) {
        return Err(AppError::Refused(STALE.into()));
    }
    let code = q.code.clone();
    if code.is_empty()
        || code.len() > 256
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(AppError::Refused(STALE.into()));
    }
    Ok((safe_next(Some(&next)), code))
}

/// Not bound yet: a signed, short-lived note of the identity, then the password once.
fn to_binding(state: &AppState, ch: Channel, address: &str) -> AppResult<HttpResponse> {
    {
        let exp = state
            .config
            .clock
            .now()
            .and_utc()
            .timestamp()
            .saturating_add(TEN_MINUTES)
            .to_string();
        let mac = digest(&[
            &state.config.secret_key,
            b"oauth-bind",
            ch.as_str().as_bytes(),
            address.as_bytes(),
            exp.as_bytes(),
        ]);
        let mut res = redirect("/login?next=/me/channels/bind");
        res.add_cookie(&cookie(
            BIND_COOKIE,
            format!("{ch}|{address}|{exp}|{mac}"),
            state.config.secure_cookies,
        ))
        .map_err(|e| AppError::Internal(format!("cookie: {e}")))?;
        Ok(res)
    }
}

/// A bound member: the same session a password gives.
async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    member: i32,
    ch: Channel,
    next: &str,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let ip = client_ip(req);
    let ua = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let token = db::run(&state.pool, move |conn| {
        crate::auth::service::start_session(conn, member, ch.as_str(), ip, ua, now)
    })
    .await
    .map_err(|e| match e {
        AppError::NotFound => AppError::Refused("账号已停用，请联系工会".into()),
        e => e,
    })?;
    let mut res = redirect(next);
    res.add_cookie(&session::cookie(token, state.config.secure_cookies))
        .map_err(|e| AppError::Internal(format!("cookie: {e}")))?;
    Ok(res)
}

#[derive(Deserialize)]
struct WecomUser {
    #[serde(flatten)]
    err: Errcode,
    #[serde(default, alias = "UserId")]
    userid: String,
}

#[derive(Deserialize)]
struct WechatUser {
    #[serde(flatten)]
    err: Errcode,
    #[serde(default)]
    openid: String,
}

/// The provider's answer to a code: the WeCom userid (members of the corp only) or the
/// WeChat openid.
fn identify(
    client: &Client,
    channels: &crate::config::ChannelsConfig,
    ch: Channel,
    code: &str,
) -> Result<String, String> {
    match (ch, &channels.wecom, &channels.wechat) {
        (Channel::Wecom, Some(w), _) => {
            for first in [true, false] {
                let token = crate::outbox::adapters::wecom::token(&client.agent, &client.tokens, w)
                    .map_err(|o| format!("获取令牌失败：{o:?}"))?;
                let q = [("access_token", token.as_str()), ("code", code)];
                let url = format!("{}/cgi-bin/auth/getuserinfo", w.api);
                let r = get(&client.agent, &url, &q).map_err(|f| f.text)?;
                let u: WecomUser =
                    serde_json::from_str(&r.body).map_err(|_| "应答无法解析".to_string())?;
                match u.err.errcode {
                    0 if !u.userid.is_empty() => return Ok(u.userid),
                    // Not a member of the corp (an outside contact): never signed in.
                    0 => return Err("非企业成员".into()),
                    40014 | 42001 | 41001 if first => client.tokens.forget("wecom"),
                    _ => return Err(code_text(&u.err)),
                }
            }
            Err("访问令牌连续两次无效".into())
        }
        (Channel::Wechat, _, Some(w)) => {
            let q = [
                ("appid", w.app_id.as_str()),
                ("secret", w.secret.0.as_str()),
                ("code", code),
                ("grant_type", "authorization_code"),
            ];
            let url = format!("{}/sns/oauth2/access_token", w.api);
            let r = get(&client.agent, &url, &q).map_err(|f| f.text)?;
            let u: WechatUser =
                serde_json::from_str(&r.body).map_err(|_| "应答无法解析".to_string())?;
            if u.err.errcode == 0 && !u.openid.is_empty() {
                Ok(u.openid)
            } else {
                Err(code_text(&u.err))
            }
        }
        _ => Err("渠道未配置".into()),
    }
}

/// The identity a callback left for binding, if its MAC and time still hold.
fn pending(req: &HttpRequest, state: &AppState) -> Option<(Channel, String)> {
    let v = req.cookie(BIND_COOKIE)?.value().to_string();
    let mut parts = v.splitn(4, '|');
    let (ch, address, exp, mac) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let expected = digest(&[
        &state.config.secret_key,
        b"oauth-bind",
        ch.as_bytes(),
        address.as_bytes(),
        exp.as_bytes(),
    ]);
    let live = exp.parse::<i64>().ok()? > state.config.clock.now().and_utc().timestamp();
    (crate::auth::constant_time_eq(mac, &expected) && live)
        .then(|| Channel::parse(ch).map(|c| (c, address.to_string())))
        .flatten()
}

#[derive(Template)]
#[template(path = "channels/bind.html")]
pub struct BindPage {
    ctx: Ctx,
    channel: Channel,
}

async fn bind_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(_): CurrentUser,
) -> AppResult<HttpResponse> {
    match pending(&req, &state) {
        Some((channel, _)) => render(&BindPage { ctx, channel }),
        None => Ok(redirect_flash("/me/channels", "error", STALE)),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

async fn bind(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let Some((ch, address)) = pending(&req, &state) else {
        return Ok(redirect_flash("/me/channels", "error", STALE));
    };
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let res = db::run(&state.pool, move |conn| {
        db::write_tx(conn, |c| {
            if !model::bind(c, user.id, ch, &address, actor.now)? {
                // Rolled back (on PostgreSQL a refused insert ends the transaction anyway).
                return Err(AppError::Validation(format!(
                    "这个{}账号已绑定其他会员，请联系工会",
                    ch.label()
                )));
            }
            crate::audit::record(
                c,
                &actor,
                None,
                crate::audit::AuditAction::ChannelBind,
                ("member", Some(user.id)),
                ch.label(),
            )
        })
    })
    .await;
    let mut res = match res {
        Ok(()) => redirect_flash(
            "/me/channels",
            "ok",
            &format!("已绑定{}：以后从菜单打开职工之家无需输入密码", ch.label()),
        ),
        Err(AppError::Validation(m)) => redirect_flash("/me/channels", "error", &m),
        Err(e) => return Err(e),
    };
    res.add_cookie(&gone(BIND_COOKIE))
        .map_err(|e| AppError::Internal(format!("cookie: {e}")))?;
    Ok(res)
}
