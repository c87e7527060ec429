//! WeChat official account (公众号) template messages to members who bound their openid. The
//! administrator sets one template id per kind; each template has the fields `thing1` (what
//! happened) and `thing2` (the kind). `client_msg_id` lets WeChat drop a resend for 10 minutes.

use super::Ctx;
use crate::config::WechatConfig;
use crate::outbox::http::{code_text, post_json, Errcode, Outcome};
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
    msgid: Option<serde_json::Value>,
}

const TOKEN_CODES: [i64; 3] = [40001, 40014, 42001];

/// `stable_token` in normal mode: other holders of the account's token keep theirs.
fn token(ctx: &Ctx<'_>, cfg: &WechatConfig) -> Result<String, Outcome> {
    if let Some(t) = ctx.tokens.get("wechat") {
        return Ok(t);
    }
    let body = serde_json::json!({
        "grant_type": "client_credential",
        "appid": cfg.app_id,
        "secret": cfg.secret.0,
    })
    .to_string();
    let url = format!("{}/cgi-bin/stable_token", cfg.api);
    let reply = post_json(ctx.agent, &url, &[], &[], &body).map_err(|f| Outcome::Retry(f.text))?;
    if reply.status >= 500 {
        return Err(Outcome::Retry(format!("获取令牌：HTTP {}", reply.status)));
    }
    let t: TokenReply = serde_json::from_str(&reply.body)
        .map_err(|_| Outcome::Retry("获取令牌：无法解析应答".into()))?;
    match t.err.errcode {
        0 if !t.access_token.is_empty() => {
            ctx.tokens
                .put("wechat", t.access_token.clone(), t.expires_in);
            Ok(t.access_token)
        }
        -1 => Err(Outcome::Retry(format!("获取令牌：{}", code_text(&t.err)))),
        _ => Err(Outcome::Failed(format!("获取令牌：{}", code_text(&t.err)))),
    }
}

pub fn send(ctx: &Ctx<'_>, x: &Due) -> Outcome {
    let Some(cfg) = &ctx.channels.wechat else {
        return Outcome::Failed("微信公众号未配置".into());
    };
    let Some(openid) = &x.address else {
        return Outcome::Unreachable("未绑定微信".into());
    };
    let Some(template) = ctx.templates.get(&x.kind) else {
        return Outcome::Failed(format!("未设置“{}”的模板消息编号", x.kind.label()));
    };
    let body = serde_json::json!({
        "touser": openid,
        "template_id": template,
        "url": ctx.url(x),
        "client_msg_id": x.idem_key,
        "data": {
            "thing1": {"value": crate::text::clip(&Ctx::text(x), 20)},
            "thing2": {"value": crate::text::clip(x.kind.label(), 20)},
        },
    })
    .to_string();
    let url = format!("{}/cgi-bin/message/template/send", cfg.api);
    for first in [true, false] {
        let token = match token(ctx, cfg) {
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
            0 => Outcome::Sent(r.msgid.map(|m| m.to_string())),
            c if TOKEN_CODES.contains(&c) && first => {
                ctx.tokens.forget("wechat");
                continue;
            }
            -1 => Outcome::Retry(code_text(&r.err)),
            45009 | 45047 => Outcome::Paused(code_text(&r.err)),
            43004 | 43101 => Outcome::Unreachable(code_text(&r.err)),
            _ => Outcome::Failed(code_text(&r.err)),
        };
    }
    Outcome::Retry("访问令牌连续两次无效".into())
}
