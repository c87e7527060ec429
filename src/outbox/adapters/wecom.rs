//! WeCom (企业微信) application messages: `gettoken`, then `message/send` as a text card with
//! WeCom's duplicate check on, so a resend of the same delivery within four hours is dropped
//! by WeCom itself.

use super::Ctx;
use crate::config::WecomConfig;
use crate::outbox::http::{code_text, get, post_json, Errcode, Outcome, Tokens};
use crate::outbox::model::Due;

#[derive(serde::Deserialize)]
struct TokenReply {
    #[serde(flatten)]
    err: Errcode,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: u64,
}

#[derive(serde::Deserialize)]
struct SendReply {
    #[serde(flatten)]
    err: Errcode,
    #[serde(default)]
    invaliduser: String,
    #[serde(default)]
    msgid: String,
}

/// Codes that mean the token is bad: fetch a new one and send again (once).
const TOKEN_CODES: [i64; 3] = [40014, 42001, 41001];

/// The application's access token, cached in `tokens` until it expires (the sender's and the
/// sign-in handlers' caches alike).
pub fn token(agent: &ureq::Agent, tokens: &Tokens, cfg: &WecomConfig) -> Result<String, Outcome> {
    if let Some(t) = tokens.get("wecom") {
        return Ok(t);
    }
    let url = format!("{}/cgi-bin/gettoken", cfg.api);
    let query = [
        ("corpid", cfg.corp_id.as_str()),
        ("corpsecret", cfg.secret.0.as_str()),
    ];
    let reply = get(agent, &url, &query).map_err(|f| Outcome::Retry(f.text))?;
    if reply.status >= 500 {
        return Err(Outcome::Retry(format!("获取令牌：HTTP {}", reply.status)));
    }
    let t: TokenReply = serde_json::from_str(&reply.body)
        .map_err(|_| Outcome::Retry("获取令牌：无法解析应答".into()))?;
    match t.err.errcode {
        0 if !t.access_token.is_empty() => {
            tokens.put("wecom", t.access_token.clone(), t.expires_in);
            Ok(t.access_token)
        }
        -1 => Err(Outcome::Retry(format!("获取令牌：{}", code_text(&t.err)))),
        _ => Err(Outcome::Failed(format!("获取令牌：{}", code_text(&t.err)))),
    }
}

pub fn send(ctx: &Ctx<'_>, x: &Due) -> Outcome {
    let Some(cfg) = &ctx.channels.wecom else {
        return Outcome::Failed("企业微信未配置".into());
    };
    let Some(user) = &x.address else {
        return Outcome::Unreachable("未绑定企业微信".into());
    };
    let body = serde_json::json!({
        "touser": user,
        "msgtype": "textcard",
        "agentid": cfg.agent_id,
        "textcard": {
            "title": "职工之家",
            "description": Ctx::text(x),
            "url": ctx.url(x),
            "btntxt": "详情",
        },
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 14400,
    })
    .to_string();
    let url = format!("{}/cgi-bin/message/send", cfg.api);
    for first in [true, false] {
        let token = match token(ctx.agent, ctx.tokens, cfg) {
            Ok(t) => t,
            Err(o) => return o,
        };
        let reply = match post_json(ctx.agent, &url, &[("access_token", &token)], &[], &body) {
            Ok(r) => r,
            Err(e) => return e.outcome(),
        };
        if reply.status >= 500 || reply.status == 429 {
            return Outcome::Retry(format!("HTTP {}", reply.status));
        }
        let Ok(r) = serde_json::from_str::<SendReply>(&reply.body) else {
            return Outcome::Retry(format!("HTTP {}：无法解析应答", reply.status));
        };
        return match r.err.errcode {
            0 if r
                .invaliduser
                .split('|')
                .any(|u| u.eq_ignore_ascii_case(user)) =>
            {
                Outcome::Unreachable("成员不在应用可见范围".into())
            }
            0 => Outcome::Sent(Some(r.msgid).filter(|m| !m.is_empty())),
            c if TOKEN_CODES.contains(&c) && first => {
                ctx.tokens.forget("wecom");
                continue;
            }
            -1 => Outcome::Retry(code_text(&r.err)),
            45009 | 45033 => Outcome::Paused(code_text(&r.err)),
            81013 => Outcome::Unreachable(code_text(&r.err)),
            _ => Outcome::Failed(code_text(&r.err)),
        };
    }
    Outcome::Retry("访问令牌连续两次无效".into())
}
