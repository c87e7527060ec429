//! Command line: flags and environment become a `Config`; each subcommand calls into the library.

use clap::{Args, Parser, Subcommand};

use crate::config::{load_or_create_secret, Clock, Config, HashCost};
use crate::db::DbUrl;
use crate::error::{AppError, AppResult};

/// 职工之家 zhijia — the trade union's online staff home, in one binary.
///
/// With no command it serves the portal. On first start with an empty database it logs a
/// one-time setup link for creating the first administrator.
#[derive(Parser, Debug)]
#[command(name = "zhijia", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Database: sqlite://PATH (embedded, the default) or postgres://USER@HOST/DB
    #[arg(
        long,
        global = true,
        env = "ZHIJIA_DATABASE_URL",
        default_value = "sqlite://data/zhijia.db"
    )]
    pub database_url: String,
    /// Address to listen on (port 0 picks a free port)
    #[arg(
        long,
        global = true,
        env = "ZHIJIA_BIND",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: String,
    /// Secret for CSRF tokens (≥ 32 characters). Default: generated once into secret.key beside
    /// the SQLite file. Set the same value on every instance behind a load balancer.
    #[arg(long, global = true, env = "ZHIJIA_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Mark cookies Secure: set this when users reach the portal over HTTPS
    #[arg(long, global = true, env = "ZHIJIA_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Bearer token for `/metrics` (Prometheus text format); unset: no `/metrics` at all
    #[arg(
        long,
        global = true,
        env = "ZHIJIA_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Database connections per instance
    #[arg(long, global = true, env = "ZHIJIA_POOL_SIZE", default_value_t = 8)]
    pub pool_size: u32,
    /// Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses, e.g.
    /// 10.0.0.5,10.0.0.6). Default none: the client address is the connection's peer.
    #[arg(
        long,
        global = true,
        env = "ZHIJIA_TRUSTED_PROXIES",
        default_value = ""
    )]
    pub trusted_proxies: String,
    /// The address users reach the portal at, e.g. https://union.example.com: the only source
    /// of absolute links (member-card and check-in QR codes, the setup link); request headers
    /// never are. Default: http:// and the listen address (such links work only on this host)
    #[arg(long, global = true, env = "ZHIJIA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// On SIGTERM or Ctrl-C: seconds in-flight requests get to finish (new ones are refused at
    /// once and /readyz answers 503), before buffered counts are written and the instance exits
    #[arg(
        long,
        global = true,
        env = "ZHIJIA_SHUTDOWN_SECS",
        default_value_t = 30
    )]
    pub shutdown_secs: u64,
    /// Seconds between rounds of the background job (deadlines, rollups); one instance of many
    /// runs each round
    #[arg(
        long,
        global = true,
        env = "ZHIJIA_JOB_TICK_SECS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(2..=3600)
    )]
    pub job_tick_secs: u64,
    /// Multiply every write quota by this (load tests only; 1 in production)
    #[arg(
        long,
        global = true,
        env = "ZHIJIA_QUOTA_SCALE",
        default_value_t = 1,
        value_parser = clap::value_parser!(i32).range(1..=100_000)
    )]
    pub quota_scale: i32,
    /// Do not record engagement events (to measure their cost; the dashboard then stays empty)
    #[arg(long, global = true, env = "ZHIJIA_NO_EVENTS")]
    pub no_events: bool,
    #[command(flatten)]
    pub channels: ChannelArgs,
}

/// The roads out of the portal; a channel is configured when all of its settings are given.
/// Its secrets (`ZHIJIA_WECOM_SECRET`, `ZHIJIA_WECHAT_SECRET`, `ZHIJIA_SMS_KEY`,
/// `ZHIJIA_SMTP_URL`) are read from the environment only, never from a flag (argv is visible to
/// every user of the machine).
#[derive(Args, Debug, Clone, Default)]
pub struct ChannelArgs {
    /// WeCom (企业微信) corp id
    #[arg(long, global = true, env = "ZHIJIA_WECOM_CORP_ID")]
    pub wecom_corp_id: Option<String>,
    /// WeCom application (agent) id
    #[arg(long, global = true, env = "ZHIJIA_WECOM_AGENT_ID")]
    pub wecom_agent_id: Option<i64>,
    /// WeCom API base
    #[arg(
        long,
        global = true,
        env = "ZHIJIA_WECOM_API",
        default_value = "https://qyapi.weixin.qq.com"
    )]
    pub wecom_api: String,
    /// WeChat official account (公众号) app id
    #[arg(long, global = true, env = "ZHIJIA_WECHAT_APP_ID")]
    pub wechat_app_id: Option<String>,
    /// WeChat API base
    #[arg(
        long,
        global = true,
        env = "ZHIJIA_WECHAT_API",
        default_value = "https://api.weixin.qq.com"
    )]
    pub wechat_api: String,
    /// SMS gateway URL (one signed JSON POST per message)
    #[arg(long, global = true, env = "ZHIJIA_SMS_URL")]
    pub sms_url: Option<String>,
    /// From address of e-mail notifications
    #[arg(long, global = true, env = "ZHIJIA_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Messages in flight at once
    #[arg(long, global = true, env = "ZHIJIA_OUTBOX_WORKERS", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=32))]
    pub outbox_workers: u16,
    /// Requests a second the sender makes to each provider (the provider's own limit or below)
    #[arg(long, global = true, env = "ZHIJIA_OUTBOX_RATE", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub outbox_rate: u32,
    /// Seconds the outbox sender's lease and claims last (checks only: 120 in production)
    #[arg(long, global = true, env = "ZHIJIA_OUTBOX_CLAIM_SECS", default_value_t = 120, hide = true,
          value_parser = clap::value_parser!(u64).range(5..=600))]
    pub outbox_claim_secs: u64,
}

impl ChannelArgs {
    pub fn config(&self) -> Result<crate::config::ChannelsConfig, String> {
        use crate::config::{api_base, Secret};
        let set = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let secret = |name: &str| set(&std::env::var(name).ok());
        let wecom = match (
            set(&self.wecom_corp_id),
            self.wecom_agent_id,
            secret("ZHIJIA_WECOM_SECRET"),
        ) {
            (Some(corp_id), Some(agent_id), Some(secret)) => Some(crate::config::WecomConfig {
                corp_id,
                agent_id,
                secret: Secret(secret),
                api: api_base("ZHIJIA_WECOM_API", &self.wecom_api)?,
            }),
            _ => None,
        };
        let wechat = match (set(&self.wechat_app_id), secret("ZHIJIA_WECHAT_SECRET")) {
            (Some(app_id), Some(secret)) => Some(crate::config::WechatConfig {
                app_id,
                secret: Secret(secret),
                api: api_base("ZHIJIA_WECHAT_API", &self.wechat_api)?,
            }),
            _ => None,
        };
        let sms = match (set(&self.sms_url), secret("ZHIJIA_SMS_KEY")) {
            (Some(url), Some(key)) => Some(crate::config::SmsConfig {
                url: api_base("ZHIJIA_SMS_URL", &url)?,
                key: Secret(key),
            }),
            _ => None,
        };
        let smtp = match (secret("ZHIJIA_SMTP_URL"), set(&self.mail_from)) {
            (Some(url), Some(from)) => Some(crate::config::SmtpConfig {
                url: Secret(crate::config::smtp_url(&url)?),
                from,
            }),
            _ => None,
        };
        Ok(crate::config::ChannelsConfig {
            wecom,
            wechat,
            sms,
            smtp,
            workers: usize::from(self.outbox_workers),
            timeout_ms: 0,
            claim_secs: self.outbox_claim_secs,
            rate: self.outbox_rate,
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the portal (the default)
    Serve,
    /// Apply pending database migrations and exit
    Migrate,
    /// Manage administrator accounts
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
    /// Import or update members from a CSV or XLSX roster
    ///
    /// Columns (header row, any order): 工号, 姓名, 手机, 单位, optional 初始密码. 单位 is a unique
    /// unit name or a full path such as 集团工会/第一工程公司工会/机关分会. Re-running the same file
    /// updates changed rows and creates no duplicates. New members get an initial password (from
    /// the file, else generated and written to FILE.passwords.csv) and must change it at first login.
    ImportMembers {
        /// The roster file (.csv or .xlsx)
        file: std::path::PathBuf,
    },
    /// Seed a realistic demo union (about 300 members) and print the demo accounts
    Demo {
        /// Start serving right after seeding
        #[arg(long)]
        serve: bool,
    },
    /// Write a consistent online copy of the SQLite database to FILE
    Backup {
        /// Destination file (must not exist)
        file: std::path::PathBuf,
    },
    /// Verify the invariants between denormalised counts and their rows (seats, likes, comments,
    /// budgets, case states, survey sheets) and print what is wrong; exit code 1 if anything is
    Check {
        /// Recompute the repairable counts from their rows (audited as check.repair)
        #[arg(long)]
        repair: bool,
    },
    /// Measure the sign-up forecast: train on all but the most recent activities, predict those,
    /// and compare with each simple figure a cadre would use (the best of them is the baseline).
    /// The last line reads `model MAE <x>, baseline MAE <y>, improvement <z>%, coverage <w>%`.
    ForecastBacktest {
        /// How many of the most recent past activities to hold out (default: a fifth, at least 10)
        #[arg(long)]
        held_out: Option<usize>,
        /// Read the history from a CSV file instead of the database: one row per member × event
        /// with member_id, event_id, group_id, event_kind, starts_at, announced_at, signed_up
        #[arg(long)]
        history: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a system administrator
    Create {
        /// Employee number used to log in
        #[arg(long)]
        employee_no: String,
        /// Display name
        #[arg(long, default_value = "系统管理员")]
        name: String,
        /// Password (default: ZHIJIA_ADMIN_PASSWORD, else a generated one is printed)
        #[arg(long, env = "ZHIJIA_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

impl GlobalArgs {
    pub fn config(&self) -> AppResult<Config> {
        let database = DbUrl::parse(&self.database_url).map_err(AppError::Internal)?;
        let secret_key =
            load_or_create_secret(self.secret_key.as_deref(), &Config::data_dir(&database))?;
        let trusted_proxies =
            crate::config::parse_proxies(&self.trusted_proxies).map_err(AppError::Internal)?;
        let public_url = crate::config::public_url(self.public_url.as_deref(), &self.bind)
            .map_err(AppError::Internal)?;
        let channels = self.channels.config().map_err(AppError::Internal)?;
        if self
            .metrics_token
            .as_deref()
            .is_some_and(|t| !t.trim().is_empty() && t.trim().chars().count() < 24)
        {
            return Err(AppError::Internal(
                "ZHIJIA_METRICS_TOKEN: at least 24 characters (anyone who guesses it reads the \
                 metrics)"
                    .into(),
            ));
        }
        if self.public_url.is_none() && !crate::outbox::adapters::configured(&channels).is_empty() {
            log::warn!(
                "ZHIJIA_PUBLIC_URL is not set: messages link to {public_url}; give every instance \
                 the same address, or a resend after a crash is a different request that the \
                 provider's duplicate check cannot catch"
            );
        }
        Ok(Config {
            database,
            bind: self.bind.clone(),
            secret_key,
            secure_cookies: self.secure_cookies,
            metrics_token: self
                .metrics_token
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| crate::config::Secret(t.to_string())),
            hash_cost: HashCost::PRODUCTION,
            pool_size: self.pool_size,
            clock: Clock::from_env(),
            trusted_proxies,
            public_url,
            shutdown_secs: self.shutdown_secs,
            job_tick_secs: self.job_tick_secs,
            quota_scale: self.quota_scale,
            query_counter: None,
            events: !self.no_events,
            channels,
        })
    }
}
