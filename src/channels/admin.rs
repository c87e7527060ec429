//! `/admin/settings/channels` (administrators): which channels are configured and on, the
//! WeChat template per kind, a test message to oneself, delivery figures for 30 days and the
//! failed messages with the provider's error. Secrets are never shown: only 已配置/未配置.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::audit::{self, Actor, AuditAction};
use crate::auth::csrf::Form;
use crate::auth::user::AdminUser;
use crate::db::{self, write_tx};
use crate::error::AppResult;
use crate::outbox::model::{self, FailedRow};
use crate::outbox::sender::{Sender, OFF_KEY, TEMPLATE_KEY};
use crate::outbox::{kind::State, Channel, Kind, Out};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/settings/channels", web::get().to(show))
        .route("/admin/settings/channels", web::post().to(save))
        .route("/admin/settings/channels/test", web::post().to(test));
}

pub struct ChannelRow {
    pub channel: Channel,
    pub configured: bool,
    pub on: bool,
    /// Deliveries in 30 days: sent, waiting (queued, held, retry, sending), failed, skipped.
    pub counts: [i64; 4],
}

#[derive(Template)]
#[template(path = "admin/channels.html")]
pub struct ChannelsPage {
    ctx: Ctx,
    rows: Vec<ChannelRow>,
    templates: Vec<(Kind, String)>,
    failed: Vec<FailedRow>,
}

impl ChannelsPage {
    pub fn at(&self, t: &chrono::NaiveDateTime) -> String {
        crate::web::beijing(t, "%Y-%m-%d %H:%M")
    }
}

async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    AdminUser(_): AdminUser,
) -> AppResult<HttpResponse> {
    let config = state.config.clone();
    let now = config.clock.now();
    let (enabled, figures, templates, failed) = db::run(&state.pool, move |conn| {
        let mut templates = Vec::new();
        for k in Kind::ALL {
            let v = crate::settings::get(conn, &format!("{TEMPLATE_KEY}{}", k.as_str()))?;
            templates.push((*k, v.unwrap_or_default()));
        }
        Ok((
            Sender::enabled(conn, &config)?,
            model::figures(conn, crate::time::minus(now, chrono::Duration::days(30)))?,
            templates,
            model::failed(conn, 50)?,
        ))
    })
    .await?;
    let configured = crate::outbox::adapters::configured(&state.config.channels);
    let rows = Channel::ALL
        .iter()
        .map(|&channel| {
            let mut counts = [0i64; 4];
            for (_, st, n) in figures.iter().filter(|(c, _, _)| *c == channel) {
                let slot = match st {
                    State::Sent | State::Merged => 0,
                    State::Failed => 2,
                    State::Skipped => 3,
                    _ => 1,
                };
                if let Some(c) = counts.get_mut(slot) {
                    *c = c.saturating_add(*n);
                }
            }
            ChannelRow {
                channel,
                configured: configured.contains(&channel),
                on: enabled.contains(&channel),
                counts,
            }
        })
        .collect();
    render(&ChannelsPage {
        ctx,
        rows,
        templates,
        failed,
    })
}

async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    AdminUser(user): AdminUser,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let on: Vec<Channel> = fields
        .iter()
        .filter_map(|(k, _)| k.strip_prefix("on_").and_then(Channel::parse))
        .collect();
    let off: Vec<&str> = Channel::ALL
        .iter()
        .filter(|c| !on.contains(c))
        .map(|c| c.as_str())
        .collect();
    let mut templates = Vec::new();
    for k in Kind::ALL {
        let v = fields
            .iter()
            .find(|(f, _)| f.strip_prefix("tpl_") == Some(k.as_str()))
            .map_or("", |(_, v)| v.trim());
        // Template ids are short tokens of letters, digits, - and _.
        let v: String = v
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            .take(64)
            .collect();
        templates.push((*k, v));
    }
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        write_tx(conn, |c| {
            crate::settings::set(c, OFF_KEY, &off.join(","), actor.now)?;
            for (k, v) in &templates {
                crate::settings::set(c, &format!("{TEMPLATE_KEY}{}", k.as_str()), v, actor.now)?;
            }
            audit::record(
                c,
                &actor,
                None,
                AuditAction::SettingsChange,
                ("settings", None),
                "消息渠道",
            )
        })
    })
    .await?;
    Ok(redirect_flash(
        "/admin/settings/channels",
        "ok",
        "渠道设置已保存",
    ))
}

#[derive(Deserialize)]
pub struct Empty {}

/// A test message to the administrator: through the outbox like any other (urgent: it ignores
/// quiet hours), to every channel they are reachable on.
async fn test(
    req: HttpRequest,
    state: web::Data<AppState>,
    AdminUser(user): AdminUser,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        write_tx(conn, |c| {
            crate::notifications::notify(
                c,
                actor.id.unwrap_or_default(),
                "这是一条测试消息：职工之家的站外提醒工作正常",
                "/admin/settings/channels",
                actor.now,
                Out::Full(Kind::Account),
            )?;
            audit::record(
                c,
                &actor,
                None,
                AuditAction::ChannelTest,
                ("settings", None),
                "",
            )
        })
    })
    .await?;
    Ok(redirect_flash(
        "/admin/settings/channels",
        "ok",
        "测试消息已排队：按您的绑定和同意发送，结果见下方统计",
    ))
}
