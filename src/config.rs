//! Runtime configuration, built once from flags and environment and passed explicitly.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::NaiveDateTime;

use crate::db::DbUrl;
use crate::error::{AppError, AppResult};

/// Argon2id cost. Production is at least OWASP's m=19456 KiB, t=2, p=1.
#[derive(Clone, Copy, Debug)]
pub struct HashCost {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl HashCost {
    pub const PRODUCTION: HashCost = HashCost {
        m_kib: 19456,
        t: 2,
        p: 1,
    };
    /// For tests only: the same algorithm at a cost that keeps the suite fast.
    pub const TEST: HashCost = HashCost {
        m_kib: 64,
        t: 1,
        p: 1,
    };
}

/// The one source of "now" for the whole program. Production reads the system clock; tests pin
/// the clock to an instant written in the test (it then moves at real speed from there), so no
/// test result depends on the calendar day it runs. `advance` moves time forward without sleeping.
#[derive(Clone, Debug)]
pub struct Clock {
    /// `Some((start, since))`: pinned to `start` at the monotonic instant `since`.
    pinned: Option<(NaiveDateTime, std::time::Instant)>,
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock (UTC).
    pub fn system() -> Clock {
        Clock {
            pinned: None,
            offset_secs: Arc::default(),
        }
    }

    /// A clock that reads `start` now and then runs at real speed.
    pub fn starting_at(start: NaiveDateTime) -> Clock {
        Clock {
            pinned: Some((start, std::time::Instant::now())),
            offset_secs: Arc::default(),
        }
    }

    /// The CLI's clock: the system clock, except that debug builds honour
    /// `ZHIJIA_CLOCK_START` (an RFC 3339 instant) so tests that run the binary pin its calendar.
    pub fn from_env() -> Clock {
        if cfg!(debug_assertions) {
            if let Some(start) = std::env::var("ZHIJIA_CLOCK_START")
                .ok()
                .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
            {
                return Clock::starting_at(start.naive_utc());
            }
        }
        Clock::system()
    }

    pub fn now(&self) -> NaiveDateTime {
        let base = match self.pinned {
            Some((start, since)) => chrono::Duration::from_std(since.elapsed())
                .ok()
                .and_then(|d| start.checked_add_signed(d))
                .unwrap_or(start),
            None => chrono::Utc::now().naive_utc(),
        };
        let offset = chrono::Duration::seconds(self.offset_secs.load(Ordering::Relaxed));
        base.checked_add_signed(offset).unwrap_or(base)
    }

    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database: DbUrl,
    pub bind: String,
    pub secret_key: Vec<u8>,
    /// Mark cookies `Secure` (set when served behind HTTPS).
    pub secure_cookies: bool,
    /// Bearer token that opens `/metrics` (`ZHIJIA_METRICS_TOKEN`); unset: no `/metrics`.
    pub metrics_token: Option<Secret>,
    pub hash_cost: HashCost,
    pub pool_size: u32,
    pub clock: Clock,
    /// Tests only: count every database statement.
    pub query_counter: Option<crate::db::QueryCounter>,
    /// Record engagement events (off only to measure what recording costs).
    pub events: bool,
    /// Peers whose `X-Forwarded-For` names the client (`ZHIJIA_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where people reach the portal (`ZHIJIA_PUBLIC_URL`, no trailing slash): the only source
    /// of absolute links. Never taken from a request's `Host` or `X-Forwarded-*` headers.
    pub public_url: String,
    /// On SIGTERM: seconds in-flight requests get to finish before the instance exits.
    pub shutdown_secs: u64,
    /// Seconds between rounds of the leased background job (60; the cluster test shortens it).
    pub job_tick_secs: u64,
    /// Multiplies every write quota (`ZHIJIA_QUOTA_SCALE`, 1): only for load tests that send
    /// one member's writes by the thousand.
    pub quota_scale: i32,
    /// The roads out of the portal (WeCom, WeChat, SMS, e-mail): each `None` until configured.
    pub channels: ChannelsConfig,
}

/// A secret from the environment: never printed (`Config` derives `Debug`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// WeCom (企业微信) application: corp id, agent id, secret, API base.
#[derive(Clone, Debug)]
pub struct WecomConfig {
    pub corp_id: String,
    pub agent_id: i64,
    pub secret: Secret,
    pub api: String,
}

/// WeChat official account (公众号): app id, secret, API base.
#[derive(Clone, Debug)]
pub struct WechatConfig {
    pub app_id: String,
    pub secret: Secret,
    pub api: String,
}

/// The SMS gateway: one JSON POST, signed with the key.
#[derive(Clone, Debug)]
pub struct SmsConfig {
    pub url: String,
    pub key: Secret,
}

/// SMTP: `smtp://` or `smtps://` URL (credentials inside it) and the From address.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    pub url: Secret,
    pub from: String,
}

#[derive(Clone, Debug, Default)]
pub struct ChannelsConfig {
    pub wecom: Option<WecomConfig>,
    pub wechat: Option<WechatConfig>,
    pub sms: Option<SmsConfig>,
    pub smtp: Option<SmtpConfig>,
    /// Sends in flight at once (`ZHIJIA_OUTBOX_WORKERS`, 4).
    pub workers: usize,
    /// Timeout of one provider request in milliseconds (0: 8 s; tests shorten it).
    pub timeout_ms: u64,
    /// Seconds a sender's lease and claims last (0: 120; the cluster check shortens it so a
    /// killed sender's work is taken over within seconds).
    pub claim_secs: u64,
    /// Requests a second to each provider (`ZHIJIA_OUTBOX_RATE`; 0: 100). Above its limit a
    /// gateway answers 429 and WeCom drops or refuses, so the sender paces itself below it.
    pub rate: u32,
}

impl ChannelsConfig {
    /// Requests a second to one provider.
    pub fn rate(&self) -> u32 {
        match self.rate {
            0 => 100,
            r => r,
        }
    }

    pub fn claim_ttl(&self) -> chrono::Duration {
        chrono::Duration::seconds(match self.claim_secs {
            0 => 120,
            s => i64::try_from(s).unwrap_or(120),
        })
    }
}

/// An API base URL from the environment: `https://`, or `http://` to this machine only (the
/// tests' fake providers, a local relay). Plain HTTP elsewhere would carry secrets and tokens
/// in the clear, so start-up refuses it. (An https host is the operator's choice: the value
/// comes from the environment, never from a request.)
pub fn api_base(name: &str, given: &str) -> Result<String, String> {
    let url = given.trim().trim_end_matches('/');
    let refuse = || format!("{name}: must be https://…, or http:// on 127.0.0.1 or [::1]: {given}");
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return Err(refuse()),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty()
        || authority.contains('@')
        || rest.contains(|c: char| !c.is_ascii_graphic() || matches!(c, '?' | '#' | '\\'))
    {
        return Err(refuse());
    }
    if !https {
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        let loopback = host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(refuse());
        }
    }
    Ok(url.to_string())
}

/// `ZHIJIA_TRUSTED_PROXIES`: comma-separated IP addresses, empty for none.
pub fn parse_proxies(s: &str) -> Result<Vec<std::net::IpAddr>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse()
                .map_err(|_| format!("ZHIJIA_TRUSTED_PROXIES: not an IP address: {p}"))
        })
        .collect()
}

/// `ZHIJIA_PUBLIC_URL`: an `http://` or `https://` address (a path prefix allowed, no query,
/// no fragment, no user). Unset or empty: `http://` and the listen address, with an unspecified
/// address (0.0.0.0, [::]) replaced by 127.0.0.1 — links that work on the server itself and
/// point nowhere else.
pub fn public_url(given: Option<&str>, bind: &str) -> Result<String, String> {
    let Some(given) = given.map(str::trim).filter(|g| !g.is_empty()) else {
        let (host, port) = bind.rsplit_once(':').unwrap_or((bind, "8080"));
        let host = match host {
            "" | "0.0.0.0" | "[::]" | "::" => "127.0.0.1",
            h => h,
        };
        return Ok(format!("http://{host}:{port}"));
    };
    let url = given.trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("ZHIJIA_PUBLIC_URL: not an http(s) address: {given}"))?;
    let odd = |c: char| {
        !c.is_ascii_graphic()
            || matches!(
                c,
                '"' | '\'' | '<' | '>' | '\\' | '`' | '?' | '#' | '@' | '{' | '}'
            )
    };
    if rest.split('/').next().is_none_or(str::is_empty) || rest.contains(odd) {
        return Err(format!(
            "ZHIJIA_PUBLIC_URL: not a plain http(s) address: {given}"
        ));
    }
    Ok(url.to_string())
}

impl Config {
    /// An absolute link to a path of the portal (`/admin/card-check?code=…`).
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Directory for the secret key and other local files: beside the SQLite file, else `data/`.
    pub fn data_dir(database: &DbUrl) -> PathBuf {
        match database {
            DbUrl::Sqlite(p) => p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            DbUrl::Postgres(_) => PathBuf::from("data"),
        }
    }
}

/// The secret key: the given one, else the one kept in the data directory, else a new one
/// written there (mode 0600) on first run.
pub fn load_or_create_secret(given: Option<&str>, data_dir: &Path) -> AppResult<Vec<u8>> {
    if let Some(k) = given.filter(|k| !k.is_empty()) {
        if k.len() < 32 {
            return Err(AppError::Internal(
                "ZHIJIA_SECRET_KEY must be at least 32 characters".into(),
            ));
        }
        return Ok(k.as_bytes().to_vec());
    }
    let path = data_dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => {
            return Err(AppError::Internal(format!(
                "{} is too short; delete it to generate a new key",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(AppError::Internal(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| AppError::Internal(format!("cannot create {}: {e}", data_dir.display())))?;
    let key = crate::auth::random_token(32);
    write_private(&path, &key)
        .map_err(|e| AppError::Internal(format!("cannot write {}: {e}", path.display())))?;
    log::info!("generated a new secret key in {}", path.display());
    Ok(key.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

/// `ZHIJIA_SMTP_URL`: TLS from the start (`smtps://`) or STARTTLS required
/// (`smtp://…?tls=required`); plain `smtp://` only to this machine (a local relay), since lettre
/// sends the password and every mail in the clear there. Errors never repeat the URL (it holds
/// the password).
pub fn smtp_url(url: &str) -> Result<String, String> {
    let bad = |why: &str| format!("ZHIJIA_SMTP_URL: {why}");
    let rest = url
        .strip_prefix("smtps://")
        .map(|r| (true, r))
        .or_else(|| url.strip_prefix("smtp://").map(|r| (false, r)));
    let Some((tls, rest)) = rest else {
        return Err(bad("must start with smtps:// or smtp://"));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let starttls = rest.contains("tls=required");
    let local = host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback());
    if !(tls || starttls || local) {
        return Err(bad(
            "use smtps://… or smtp://…?tls=required (plain smtp:// only to 127.0.0.1)",
        ));
    }
    lettre::SmtpTransport::from_url(url).map_err(|_| bad("cannot be read"))?;
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::{api_base, public_url};

    #[test]
    fn an_api_base_is_https_or_this_machine_and_secrets_never_print() {
        assert_eq!(
            api_base("X", "https://qyapi.weixin.qq.com/").as_deref(),
            Ok("https://qyapi.weixin.qq.com")
        );
        assert!(api_base("X", "http://127.0.0.1:9").is_ok());
        assert!(api_base("X", "http://[::1]:9/api").is_ok());
        for bad in [
            "http://10.0.0.1",
            "http://169.254.169.254/latest",
            "http://localhost.evil.example",
            "http://127.0.0.1.nip.io",
            "ftp://x",
            "https://user@x",
            "https://x/?a",
            "https://",
            "gopher://127.0.0.1",
        ] {
            assert!(api_base("X", bad).is_err(), "{bad}");
        }
        let s = super::Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "***");
        use super::smtp_url;
        assert!(smtp_url("smtps://u:p@mail.example.com:465").is_ok());
        assert!(smtp_url("smtp://u:p@mail.example.com:587?tls=required").is_ok());
        assert!(smtp_url("smtp://127.0.0.1:2525").is_ok());
        for bad in [
            "smtp://u:p@mail.example.com:587",
            "http://x",
            "smtp://",
            "mail.example.com",
        ] {
            let e = smtp_url(bad).err().unwrap_or_default();
            assert!(
                e.starts_with("ZHIJIA_SMTP_URL") && !e.contains(":p@"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn the_public_url_is_configured_or_the_listen_address_and_never_odd() {
        assert_eq!(
            public_url(Some("https://union.example.com/"), "0.0.0.0:8080").as_deref(),
            Ok("https://union.example.com")
        );
        assert_eq!(
            public_url(Some("https://example.com/zhijia"), "x").as_deref(),
            Ok("https://example.com/zhijia")
        );
        assert_eq!(
            public_url(None, "0.0.0.0:8080").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        assert_eq!(
            public_url(Some(" "), "10.0.0.5:9000").as_deref(),
            Ok("http://10.0.0.5:9000")
        );
        for bad in [
            "javascript://x",
            "union.example.com",
            "https://",
            "https://a b",
            "https://x\"onload=\"",
            "https://x/?q",
            "https://user@x",
        ] {
            assert!(public_url(Some(bad), "127.0.0.1:8080").is_err(), "{bad}");
        }
    }
}
