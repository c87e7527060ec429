//! A member's roads out of the portal (issue 33): consent, bindings, which kinds come by which
//! channel, quiet hours (`pages`); the administrator's switches, templates, figures and failed
//! messages (`admin`). The rules are here, the SQL in `outbox::model`.

pub mod admin;
pub mod oauth;
pub mod pages;

use chrono::NaiveDateTime;

use crate::audit::{self, Actor, AuditAction};
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::outbox::model;
use crate::outbox::{Channel, Kind};

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    oauth::routes(cfg);
    pages::routes(cfg);
    admin::routes(cfg);
}

/// Give or withdraw consent: the flag, the appended record and the audit row together.
pub fn set_consent(
    conn: &mut DbConnection,
    actor: &Actor,
    member: i32,
    given: bool,
) -> AppResult<()> {
    write_tx(conn, |c| {
        model::set_consent(c, member, given, actor.now)?;
        audit::record(
            c,
            actor,
            None,
            AuditAction::ChannelConsent,
            ("member", Some(member)),
            if given { "同意" } else { "撤回" },
        )
    })
}

/// One kind's choice on the form: automatic, off, or one channel.
pub fn parse_choice(v: &str) -> Result<Option<Vec<Channel>>, String> {
    match v {
        "" | "auto" => Ok(None),
        "off" => Ok(Some(Vec::new())),
        c => Channel::parse(c)
            .map(|ch| Some(vec![ch]))
            .ok_or_else(|| "请选择列表中的渠道".to_string()),
    }
}

/// "HH:MM" (or "H") as minutes after midnight.
pub fn parse_minutes(v: &str) -> Result<i32, String> {
    let (h, m) = v.trim().split_once(':').unwrap_or((v.trim(), "0"));
    match (h.parse::<i32>(), m.parse::<i32>()) {
        (Ok(h), Ok(m)) if (0..24).contains(&h) && (0..60).contains(&m) => {
            Ok(h.saturating_mul(60).saturating_add(m))
        }
        _ => Err("请选择 00:00 到 23:59 之间的时间".into()),
    }
}

/// Save preferences and quiet hours in one transaction.
pub fn save_settings(
    conn: &mut DbConnection,
    member: i32,
    prefs: &[(Kind, Vec<Channel>)],
    quiet: (i32, i32),
    now: NaiveDateTime,
) -> AppResult<()> {
    write_tx(conn, |c| {
        model::set_prefs(c, member, prefs)?;
        model::set_quiet(c, member, quiet, now)
    })
}

/// Bind an e-mail address (checked for shape; one address, one member).
pub fn bind_email(
    conn: &mut DbConnection,
    actor: &Actor,
    member: i32,
    address: &str,
) -> AppResult<()> {
    let address = address.trim().to_ascii_lowercase();
    let shaped = address.len() <= 120
        && address.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
        })
        && address
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | ',' | ';' | '\\'));
    if !shaped {
        return Err(AppError::Validation(
            "请填写正确的邮箱地址，如 zhangsan@example.com".into(),
        ));
    }
    write_tx(conn, |c| {
        if !model::bind(c, member, Channel::Email, &address, actor.now)? {
            return Err(AppError::Validation("这个邮箱已被其他会员绑定".into()));
        }
        audit::record(
            c,
            actor,
            None,
            AuditAction::ChannelBind,
            ("member", Some(member)),
            Channel::Email.label(),
        )
    })
}

pub fn unbind(
    conn: &mut DbConnection,
    actor: &Actor,
    member: i32,
    ch: Channel,
) -> AppResult<usize> {
    write_tx(conn, |c| {
        let n = model::unbind(c, member, ch)?;
        if n > 0 {
            audit::record(
                c,
                actor,
                None,
                AuditAction::ChannelUnbind,
                ("member", Some(member)),
                ch.label(),
            )?;
        }
        Ok(n)
    })
}
