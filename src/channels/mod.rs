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

/// How long the link in a confirmation mail works.
pub const EMAIL_CONFIRM_HOURS: i64 = 24;
/// The confirmation page (the mail's link adds `?code=…`).
pub const EMAIL_CONFIRM_PATH: &str = "/me/channels/email/confirm";

/// Ask to bind an e-mail address: checked for shape, then a one-time link is mailed to it
/// through the outbox; the address is bound only when its owner opens the link while signed
/// in (`confirm_email`). Nothing else goes to an unconfirmed address, so a typed address can
/// neither receive the union's mail uninvited nor be squatted (the binding's uniqueness
/// applies at confirmation).
pub fn request_email(
    conn: &mut DbConnection,
    actor: &Actor,
    member: i32,
    address: &str,
    email_on: bool,
) -> AppResult<()> {
    let address = address.trim().to_ascii_lowercase();
    let shaped = address.len() <= 120
        && address.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
        })
        && address
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | ',' | ';' | '\\'))
        // What the mailer will accept (`a@b@c.d` passes the shape above).
        && address.parse::<lettre::Address>().is_ok();
    if !shaped {
        return Err(AppError::Validation(
            "请填写正确的邮箱地址，如 zhangsan@example.com".into(),
        ));
    }
    if !email_on {
        return Err(AppError::Validation(
            "工会尚未开通邮件提醒，暂时不能绑定邮箱".into(),
        ));
    }
    let code = crate::auth::random_token(16);
    let until = crate::time::plus(actor.now, chrono::Duration::hours(EMAIL_CONFIRM_HOURS));
    write_tx(conn, |c| {
        if !model::profile(c, member)?.consent {
            return Err(AppError::Validation(
                "请先同意接收站外提醒，再绑定邮箱".into(),
            ));
        }
        if model::bound_member(c, Channel::Email, &address)?.is_some_and(|m| m != member) {
            return Err(AppError::Validation("这个邮箱已被其他会员绑定".into()));
        }
        // Whoever asks: an address gets a few confirmation mails a day, never a flood.
        let day_ago = crate::time::minus(actor.now, chrono::Duration::hours(24));
        if model::mails_to(c, &address, day_ago)? >= 3 {
            return Err(AppError::Validation(
                "这个邮箱 24 小时内已收到 3 封确认邮件，请查收或明天再试".into(),
            ));
        }
        let pending = (address.clone(), code_digest(member, &code), until);
        model::set_pending_email(c, member, Some(&pending), actor.now)?;
        model::enqueue_to(
            c,
            member,
            Kind::Account,
            "请确认绑定职工之家邮件提醒（24 小时内有效）",
            &format!("{EMAIL_CONFIRM_PATH}?code={code}"),
            (Channel::Email, &address),
            actor.now,
        )?;
        audit::record(
            c,
            actor,
            None,
            AuditAction::ChannelBind,
            ("member", Some(member)),
            "邮箱（已发确认邮件）",
        )
    })
}

/// The code's digest, tied to the member: a code is good only for the member who asked.
fn code_digest(member: i32, code: &str) -> String {
    crate::auth::digest(&[b"email-confirm", &member.to_le_bytes(), code.as_bytes()])
}

/// The member's pending address when `code` is its live code (for the confirmation page).
pub fn pending_for(
    conn: &mut DbConnection,
    member: i32,
    code: &str,
    now: NaiveDateTime,
) -> AppResult<String> {
    match model::pending_email(conn, member)? {
        Some((address, digest, until)) if digest == code_digest(member, code) && now < until => {
            Ok(address)
        }
        _ => Err(AppError::Validation(
            "确认链接无效或已过期（24 小时内有效），请在“消息提醒”页重新绑定邮箱".into(),
        )),
    }
}

/// Open the link while signed in: the pending address becomes the member's e-mail binding.
pub fn confirm_email(
    conn: &mut DbConnection,
    actor: &Actor,
    member: i32,
    code: &str,
) -> AppResult<()> {
    write_tx(conn, |c| {
        let address = pending_for(c, member, code, actor.now)?;
        if !model::bind(c, member, Channel::Email, &address, actor.now)? {
            return Err(AppError::Validation("这个邮箱已被其他会员绑定".into()));
        }
        model::set_pending_email(c, member, None, actor.now)?;
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
