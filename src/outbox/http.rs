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
    /// Worth another try later: a refused connection, a 5xx, "busy" (nothing was delivered).
    Retry(String),
    /// The request may have reached the provider (a timeout, a connection cut mid-way): a
    /// resend is safe only inside the provider's duplicate window, and never by e-mail.
    Doubt(String),
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

/// A request that got no answer: what to tell the administrator, and whether the provider may
/// have received it.
#[derive(Debug, Clone)]
pub struct Fail {
    pub text: String,
    pub doubt: bool,
}

impl Fail {
    /// As an outcome: in doubt, or simply worth another try.
    pub fn outcome(self) -> Outcome {
        if self.doubt {
            Outcome::Doubt(self.text)
        } else {
            Outcome::Retry(self.text)
        }
    }
}

/// Errors name the kind of failure, never the error's own text: some of ureq's carry the URL,
/// and WeCom's URLs hold the access token (and `gettoken`'s the secret).
fn describe(e: &ureq::Error) -> Fail {
    let (text, doubt) = match e {
        ureq::Error::Timeout(_) => ("连接服务商超时", true),
        ureq::Error::Io(_) => ("与服务商的连接中断", true),
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => ("无法连接服务商", false),
        _ => ("请求服务商失败", false),
    };
    Fail {
        text: text.into(),
        doubt,
    }
}

fn read(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Reply, Fail> {
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

pub fn get(agent: &ureq::Agent, url: &str, query: &[(&str, &str)]) -> Result<Reply, Fail> {
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
) -> Result<Reply, Fail> {
    let mut req = agent
        .post(url)
        .content_type("application/json; charset=utf-8");
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
    format!(
        "错误码 {}：{}",
        e.errcode,
        crate::text::clip(&e.errmsg, 120)
    )
}

/// Access tokens per provider, in memory only (never in the database or a log), refreshed
/// five minutes before they expire or when the provider says one is invalid.
#[derive(Default)]
pub struct Tokens(Mutex<HashMap<&'static str, (String, Instant)>>);

impl Tokens {
    pub fn get(&self, name: &'static str) -> Option<String> {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(name)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(t, _)| t.clone())
    }

    pub fn put(&self, name: &'static str, token: String, expires_in: u64) {
        // A provider's figure is not trusted: at most two hours (WeCom's and WeChat's own).
        let life = Duration::from_secs(expires_in.clamp(360, 7200).saturating_sub(300));
        let Some(until) = Instant::now().checked_add(life) else {
            return;
        };
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(name, (token, until));
    }

    pub fn forget(&self, name: &'static str) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(name);
    }
}
