//! SMS through the union's HTTP gateway (our contract, README "Notifications outside the
//! portal"): one JSON POST `{to, text, key}`, signed with the shared key; the gateway drops a
//! second request with the same `Idempotency-Key`. 2xx sent, 4xx never, 5xx and timeouts retried.

use super::Ctx;
use crate::outbox::http::{post_json, Outcome};
use crate::outbox::model::Due;

/// The signature the gateway checks: BLAKE2b over key, timestamp and body, length-prefixed.
pub fn signature(key: &str, timestamp: &str, body: &str) -> String {
    crate::auth::digest(&[key.as_bytes(), timestamp.as_bytes(), body.as_bytes()])
}

pub fn send(ctx: &Ctx<'_>, x: &Due) -> Outcome {
    let Some(cfg) = &ctx.channels.sms else {
        return Outcome::Failed("短信网关未配置".into());
    };
    let Some(phone) = &x.address else {
        return Outcome::Unreachable("没有手机号".into());
    };
    let body = serde_json::json!({
        "to": phone,
        "text": format!("【职工之家】{} {}", Ctx::text(x), ctx.url(x)),
        "key": x.idem_key,
    })
    .to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = signature(&cfg.key.0, &ts, &body);
    let headers = [
        ("X-Zhijia-Timestamp", ts.as_str()),
        ("X-Zhijia-Signature", sig.as_str()),
        ("Idempotency-Key", x.idem_key.as_str()),
    ];
    match post_json(ctx.agent, &cfg.url, &[], &headers, &body) {
        Err(e) => e.outcome(),
        Ok(r) if (200..300).contains(&r.status) => {
            let id = serde_json::from_str::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
            Outcome::Sent(id)
        }
        Ok(r) if r.status == 429 => Outcome::Paused("HTTP 429".into()),
        Ok(r) if r.status >= 500 => Outcome::Retry(format!("HTTP {}", r.status)),
        // Not the gateway's body: it may echo the number and the text.
        Ok(r) => Outcome::Failed(format!("HTTP {}：短信网关拒绝", r.status)),
    }
}
