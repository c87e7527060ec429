//! The one HTTP client of the sender (blocking, on the sender's own threads, never on the
//! pages' blocking pool), the access-token cache and what a send comes to.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What one attempt at a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the provider (its message id, when it gives one).
    Sent(Option<String>),
    /// Worth another try later: a timeout, a refused connection, a 5xx, "busy".
    Retry(String),
    /// The provider's rate limit: retry, and give the channel a rest.
    Paused(String),
    /// Will never succeed as it is.
    Failed(String),
    /// The provider cannot reach this member on this channel (left the app's visible range,
    /// unfollowed the account): the binding is marked and the next message tries another road.
    Unreachable(String),
}

/// A provider's answer, as much as the sender needs.
pub struct Reply {
    pub status: u16,
    pub body: String,
}

pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent("zhijia-outbox")
        .build()
        .into()
}

/// Errors name the kind of failure, never the URL (it may hold an access token).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "连接服务商超时".into(),
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            "无法连接服务商".into()
        }
        other => format!("请求失败：{}", crate::text::clip(&other.to_string(), 80)),
    }
}

fn read(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Reply, String> {
    let mut resp = resp.map_err(|e| describe(&e))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(256 * 1024)
        .read_to_string()
        .map_err(|e| describe(&e))?;
    Ok(Reply { status, body })
}

pub fn get(agent: &ureq::Agent, url: &str, query: &[(&str, &str)]) -> Result<Reply, String> {
    let mut req = agent.get(url);
    for (k, v) in query {
        req = req.query(*k, *v);
    }
    read(req.call())
}

pub fn post_json(
    agent: &ureq::Agent,
    url: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Reply, String> {
    let mut req = agent.post(url).content_type("application/json; charset=utf-8");
    for (k, v) in query {
        req = req.query(*k, *v);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read(req.send(body))
}

/// A provider's JSON error fields (WeCom and WeChat share them).
#[derive(serde::Deserialize, Default)]
pub struct Errcode {
    #[serde(default)]
    pub errcode: i64,
    #[serde(default)]
    pub errmsg: String,
}

/// `errcode errmsg`, short: what the administrator sees.
pub fn code_text(e: &Errcode) -> String {
    format!("错误码 {}：{}", e.errcode, crate::text::clip(&e.errmsg, 120))
}

/// Access tokens per provider, in memory only (never in the database or a log), refreshed
/// five minutes before they expire or when the provider says one is invalid.
#[derive(Default)]
pub struct Tokens(Mutex<HashMap<&'static str, (String, Instant)>>);

impl Tokens {
    pub fn get(&self, name: &'static str) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(name)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(t, _)| t.clone())
    }

    pub fn put(&self, name: &'static str, token: String, expires_in: u64) {
        let life = Duration::from_secs(expires_in.saturating_sub(300).max(60));
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(name, (token, Instant::now() + life));
    }

    pub fn forget(&self, name: &'static str) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(name);
    }
}
