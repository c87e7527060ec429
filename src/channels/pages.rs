//! `/me/channels`: consent, bindings, which kinds come by which channel, quiet hours, and the
//! member's recent deliveries.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::outbox::model::{self, MineRow};
use crate::outbox::sender::Sender;
use crate::outbox::{Channel, Kind};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/channels", web::get().to(show))
        .route("/me/channels", web::post().to(save))
        .route("/me/channels/consent", web::post().to(consent))
        .route("/me/channels/email", web::post().to(bind_email))
        .route("/me/channels/email/confirm", web::get().to(confirm_page))
        .route("/me/channels/email/confirm", web::post().to(confirm))
        .route("/me/channels/{channel}/unbind", web::post().to(unbind));
}

pub struct KindRow {
    pub kind: Kind,
    /// "auto", "off" or a channel code.
    pub choice: String,
}

pub struct Binding {
    pub channel: Channel,
    pub address: String,
    pub unreachable: bool,
}

#[derive(Template)]
#[template(path = "channels/me.html")]
pub struct MePage {
    ctx: Ctx,
    consent: bool,
    consents: Vec<(bool, String, String)>,
    bindings: Vec<Binding>,
    kinds: Vec<KindRow>,
    enabled: Vec<Channel>,
    quiet_start: String,
    quiet_end: String,
    recent: Vec<MineRow>,
    email: String,
    /// The masked address waiting for confirmation, and until when (Beijing time).
    pending: Option<(String, String)>,
    errors: Vec<String>,
}

impl MePage {
    pub fn at(&self, t: &chrono::NaiveDateTime) -> String {
        crate::web::beijing(t, "%Y-%m-%d %H:%M")
    }

    pub fn hours(&self) -> Vec<String> {
        (0..24).map(|h| format!("{h:02}:00")).collect()
    }
}

fn hhmm(m: i32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// A masked address: enough for the member to recognise it, never the whole of it.
fn mask(ch: Channel, a: &str) -> String {
    let chars: Vec<char> = a.chars().collect();
    let keep = |n: usize| chars.iter().take(n).collect::<String>();
    match ch {
        Channel::Email => match a.split_once('@') {
            Some((u, h)) => format!("{}***@{h}", u.chars().take(2).collect::<String>()),
            None => "***".into(),
        },
        _ if chars.len() > 6 => format!(
            "{}***{}",
            keep(3),
            chars
                .iter()
                .skip(chars.len().saturating_sub(2))
                .collect::<String>()
        ),
        _ => format!("{}***", keep(1)),
    }
}

async fn page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    errors: Vec<String>,
    email: String,
) -> AppResult<MePage> {
    let member = ctx.user()?.id;
    let config = state.config.clone();
    let now = state.config.clock.now();
    let (profile, consents, bindings, prefs, enabled, recent, pending) =
        db::run(&state.pool, move |conn| {
            Ok((
                model::profile(conn, member)?,
                model::consents(conn, member)?,
                model::bindings(conn, member)?,
                model::prefs(conn, member)?,
                Sender::enabled(conn, &config)?,
                model::mine(conn, member, 20)?,
                model::pending_email(conn, member)?.filter(|p| p.2 > now),
            ))
        })
        .await?;
    let kinds = Kind::ALL
        .iter()
        .map(|&kind| KindRow {
            kind,
            choice: match prefs.iter().find(|(k, _)| *k == kind) {
                None if kind.on_by_default() => "auto".into(),
                None => "off".into(),
                Some((_, chs)) => chs.first().map_or("off".into(), |c| c.as_str().to_string()),
            },
        })
        .collect();
    Ok(MePage {
        ctx,
        consent: profile.consent,
        consents: consents
            .into_iter()
            .map(|(g, v, at)| (g, v, crate::web::beijing(&at, "%Y-%m-%d %H:%M")))
            .collect(),
        bindings: bindings
            .into_iter()
            .map(|(channel, a, u)| Binding {
                channel,
                address: mask(channel, &a),
                unreachable: u.is_some(),
            })
            .collect(),
        kinds,
        enabled,
        quiet_start: hhmm(profile.quiet_start),
        quiet_end: hhmm(profile.quiet_end),
        recent,
        email,
        pending: pending.map(|(a, _, until)| {
            (
                mask(Channel::Email, &a),
                crate::web::beijing(&until, "%m-%d %H:%M"),
            )
        }),
        errors,
    })
}

async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(_): CurrentUser,
) -> AppResult<HttpResponse> {
    render(&page(&state, ctx, Vec::new(), String::new()).await?)
}

async fn save(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let mut errors = Vec::new();
    let mut prefs = Vec::new();
    for kind in Kind::ALL {
        let v = fields
            .iter()
            .find(|(k, _)| k.strip_prefix("kind_") == Some(kind.as_str()))
            .map_or("auto", |(_, v)| v.as_str());
        match crate::channels::parse_choice(v) {
            Ok(Some(chs)) => prefs.push((*kind, chs)),
            Ok(None) if kind.on_by_default() => {}
            Ok(None) => prefs.push((*kind, vec![])),
            Err(e) => errors.push(format!("{}：{e}", kind.label())),
        }
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let quiet = match (
        crate::channels::parse_minutes(field("quiet_start")),
        crate::channels::parse_minutes(field("quiet_end")),
    ) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => {
            errors.push(format!("免打扰时段：{e}"));
            crate::outbox::plan::DEFAULT_QUIET
        }
    };
    if !errors.is_empty() {
        let p = page(&state, ctx, errors, String::new()).await?;
        return render_status(&p, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let now = state.config.clock.now();
    db::run(&state.pool, move |conn| {
        crate::channels::save_settings(conn, user.id, &prefs, quiet, now)
    })
    .await?;
    Ok(redirect_flash("/me/channels", "ok", "提醒设置已保存"))
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    given: String,
}

async fn consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    Form(f): Form<ConsentForm>,
) -> AppResult<HttpResponse> {
    let given = f.given == "1";
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        crate::channels::set_consent(conn, &actor, user.id, given)
    })
    .await?;
    Ok(redirect_flash(
        "/me/channels",
        "ok",
        if given {
            "已同意：之后的提醒会按您的设置发到企业微信、微信、短信或邮箱"
        } else {
            "已撤回同意：不再向站外发送任何提醒，排队中的也不会再发"
        },
    ))
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    address: String,
}

async fn bind_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    Form(f): Form<EmailForm>,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let address = f.address.clone();
    let config = state.config.clone();
    let res = db::run(&state.pool, move |conn| {
        let on = Sender::enabled(conn, &config)?.contains(&Channel::Email);
        crate::channels::request_email(conn, &actor, user.id, &address, on)
    })
    .await;
    match res {
        Ok(()) => Ok(redirect_flash(
            "/me/channels",
            "ok",
            &format!(
                "确认邮件已发往 {}，请在 24 小时内打开邮件中的链接完成绑定",
                mask(Channel::Email, &f.address.trim().to_ascii_lowercase())
            ),
        )),
        Err(AppError::Validation(m)) => {
            let p = page(&state, ctx, vec![m], crate::text::clip(&f.address, 120)).await?;
            render_status(&p, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

async fn unbind(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<String>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let ch = Channel::parse(&path.into_inner()).ok_or(AppError::NotFound)?;
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let n = db::run(&state.pool, move |conn| {
        crate::channels::unbind(conn, &actor, user.id, ch)
    })
    .await?;
    Ok(redirect_flash(
        "/me/channels",
        "ok",
        &if n > 0 {
            format!("已解除{}绑定", ch.label())
        } else {
            format!("没有绑定{}", ch.label())
        },
    ))
}

#[derive(Template)]
#[template(path = "channels/email_confirm.html")]
pub struct ConfirmPage {
    ctx: Ctx,
    code: String,
    /// The masked address, when the code is good.
    address: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// The mail's link: a page with a button, never a change on GET (mail scanners open links).
async fn confirm_page(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    q: web::Query<CodeForm>,
) -> AppResult<HttpResponse> {
    let code = crate::text::clip(&q.code, 64);
    let now = state.config.clock.now();
    let c = code.clone();
    let res = db::run(&state.pool, move |conn| {
        crate::channels::pending_for(conn, user.id, &c, now)
    })
    .await;
    confirm_render(ctx, code, res)
}

async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    Form(f): Form<CodeForm>,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let code = crate::text::clip(&f.code, 64);
    let c = code.clone();
    let res = db::run(&state.pool, move |conn| {
        crate::channels::confirm_email(conn, &actor, user.id, &c)
    })
    .await;
    match res {
        Ok(()) => Ok(redirect_flash("/me/channels", "ok", "邮箱已绑定")),
        Err(e) => confirm_render(ctx, code, Err(e)),
    }
}

fn confirm_render(ctx: Ctx, code: String, res: AppResult<String>) -> AppResult<HttpResponse> {
    let (address, error) = match res {
        Ok(a) => (Some(mask(Channel::Email, &a)), None),
        Err(AppError::Validation(m)) => (None, Some(m)),
        Err(e) => return Err(e),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(
        &ConfirmPage {
            ctx,
            code,
            address,
            error,
        },
        status,
    )
}
