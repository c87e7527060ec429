//! The sender: one thread per instance; under the `outbox` lease (so one instance of many
//! sends) each round plans new messages, recovers lapsed claims, claims due deliveries, sends
//! them on a few threads of its own and writes each result against its claim token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Duration, NaiveDateTime};

use super::adapters::{self, Ctx};
use super::http::{Outcome, Tokens};
use super::kind::{Channel, Kind, State};
use super::model::{self, Due, Finish, Planned};
use super::plan;
use crate::config::Config;
use crate::db::{self, DbConnection};
use crate::error::AppResult;

const LEASE: &str = "outbox";
/// Messages planned per round.
const PLAN_BATCH: i64 = 500;

/// What one round did (tests and logs).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub leased: bool,
    pub planned: usize,
    pub recovered: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub skipped: usize,
    pub deferred: usize,
}

impl Report {
    pub fn busy(&self) -> bool {
        [
            self.planned,
            self.recovered,
            self.sent,
            self.retried,
            self.failed,
            self.skipped,
        ]
        .iter()
        .any(|n| *n > 0)
    }
}

pub struct Sender {
    pool: db::Pool,
    config: Config,
    agent: ureq::Agent,
    tokens: Tokens,
    /// Channels resting after a rate-limit answer, until the time given (the config's clock,
    /// so a test can move past a pause without sleeping).
    paused: Mutex<HashMap<Channel, NaiveDateTime>>,
    /// Requests spaced per channel below the provider's limit.
    pace: Pace,
    /// True once the instance is stopping: no new send starts.
    stop: Box<dyn Fn() -> bool + Send + Sync>,
    /// Rounds and their duration for `/metrics`.
    metrics: Option<Arc<crate::metrics::Registry>>,
}

impl Sender {
    pub fn new(pool: db::Pool, config: Config) -> Sender {
        let timeout = match config.channels.timeout_ms {
            0 => 8000,
            ms => ms,
        };
        Sender {
            pool,
            pace: Pace::new(config.channels.rate()),
            config,
            agent: super::http::agent(std::time::Duration::from_millis(timeout)),
            tokens: Tokens::default(),
            paused: Mutex::default(),
            stop: Box::new(|| false),
            metrics: None,
        }
    }

    /// Stop starting sends once `stop` says so (the instance is shutting down).
    pub fn with_stop(mut self, stop: impl Fn() -> bool + Send + Sync + 'static) -> Sender {
        self.stop = Box::new(stop);
        self
    }

    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Registry>) -> Sender {
        self.metrics = Some(metrics);
        self
    }

    /// The channels configured on this instance and not switched off by an administrator.
    pub fn enabled(conn: &mut DbConnection, config: &Config) -> AppResult<Vec<Channel>> {
        let configured = adapters::configured(&config.channels);
        let off = crate::settings::get(conn, OFF_KEY)?.unwrap_or_default();
        let off = model::parse_channels(&off);
        Ok(configured
            .into_iter()
            .filter(|c| !off.contains(c))
            .collect())
    }

    /// One round. Does nothing (and says so) without the lease.
    pub fn run_once(&self, holder: &str) -> AppResult<Report> {
        let now = self.config.clock.now();
        let mut conn = self.pool.get()?;
        let mut report = Report::default();
        // Longer than one round of sends (the round stops starting sends at 3/4 of it).
        let ttl = self.config.channels.claim_ttl();
        if !crate::workflow::lease::try_acquire(&mut conn, LEASE, holder, now, ttl)? {
            return Ok(report);
        }
        report.leased = true;
        let enabled = Self::enabled(&mut conn, &self.config)?;
        if !enabled.is_empty() {
            model::announce_notices(&mut conn, now)?;
        }
        report.planned = plan_round(&mut conn, &enabled, now)?;
        report.recovered = db::write_tx(&mut conn, |c| model::recover(c, now, ttl))?;
        let token = crate::auth::random_token(12);
        let batch = claim_size(&self.config.channels, ttl);
        let due = db::write_tx(&mut conn, |c| {
            let mut due = model::claim(c, now, batch, &token, ttl)?;
            // A digest keeps its count whenever it goes (a deferral or a retry); then new
            // bursts are merged.
            for x in due.iter_mut().filter(|x| x.channel == Channel::Wecom) {
                x.merged = model::merged_count(c, x.id)?;
            }
            model::merge_bursts(c, &mut due, 3, now)?;
            Ok(due)
        })?;
        if due.is_empty() {
            return Ok(report);
        }
        let (go, mut done) = self.gate(&mut conn, due, &enabled, now)?;
        let templates = templates(&mut conn)?;
        drop(conn);
        // Sends start only while the claims are safely ours (and the instance is not stopping);
        // what was not started goes back to the queue, untouched.
        let quarter = ttl
            .to_std()
            .unwrap_or_default()
            .checked_div(4)
            .unwrap_or_default();
        let deadline = Instant::now()
            .checked_add(quarter.saturating_mul(3))
            .unwrap_or_else(Instant::now);
        let outcomes = self.send_all(&go, &templates, deadline);
        for (x, o) in go.into_iter().zip(outcomes) {
            let f = match o {
                Some(o) => self.judge(&x, o, now),
                None => defer(now),
            };
            done.push((x, f));
        }
        self.finish_all(&token, &done, &mut report)?;
        Ok(report)
    }

    /// Write each result against the claim token, in one transaction.
    fn finish_all(
        &self,
        token: &str,
        done: &[(Due, Finish)],
        report: &mut Report,
    ) -> AppResult<()> {
        let mut conn = self.pool.get()?;
        let now = self.config.clock.now();
        db::write_tx(&mut conn, |c| {
            for (x, f) in done {
                // A confirmation mail to an address not yet bound says nothing about the
                // member's bound one.
                if f.error.as_deref() == Some(UNREACHABLE_MARK) && x.to_address.is_none() {
                    model::mark_unreachable(c, x.member_id, x.channel, now)?;
                }
                if !model::finish(c, x.id, token, f, now)? {
                    log::warn!(
                        "outbox: the claim on delivery {} was lost; its result dropped",
                        x.id
                    );
                    continue;
                }
                let count = match f.state {
                    State::Sent => &mut report.sent,
                    State::Failed => &mut report.failed,
                    State::Skipped => &mut report.skipped,
                    _ if f.uncount => &mut report.deferred,
                    _ => &mut report.retried,
                };
                *count = count.saturating_add(1);
            }
            Ok(())
        })
    }

    /// What needs no network: consent withdrawn, no address, channel off, a paused channel and
    /// WeCom's per-member pace. Returns the deliveries to send and those already decided.
    #[allow(clippy::type_complexity)]
    fn gate(
        &self,
        conn: &mut DbConnection,
        due: Vec<Due>,
        enabled: &[Channel],
        now: NaiveDateTime,
    ) -> AppResult<(Vec<Due>, Vec<(Due, Finish)>)> {
        let (mut go, mut done) = (Vec::new(), Vec::new());
        let mut paced: HashMap<i32, (i64, i64)> = HashMap::new();
        for x in due {
            match self.verdict(&x, enabled, now) {
                Some(f) => done.push((x, f)),
                None if x.channel == Channel::Wecom => {
                    let counts = match paced.get(&x.member_id) {
                        Some(c) => *c,
                        None => {
                            let since = |d| crate::time::minus(now, d);
                            let (m, h) = (Duration::minutes(1), Duration::hours(1));
                            let minute =
                                model::tried_since(conn, x.member_id, x.channel, since(m))?;
                            let hour = model::tried_since(conn, x.member_id, x.channel, since(h))?;
                            (minute, hour)
                        }
                    };
                    if let Some(later) = plan::wecom_pace(now, counts.0, counts.1) {
                        done.push((x, defer(later)));
                        continue;
                    }
                    let next = (counts.0.saturating_add(1), counts.1.saturating_add(1));
                    paced.insert(x.member_id, next);
                    go.push(x);
                }
                None => go.push(x),
            }
        }
        Ok((go, done))
    }

    /// A delivery decided without sending: in doubt past the provider's window, no consent, a
    /// channel off, no address, a paused channel. `None`: it may go.
    fn verdict(&self, x: &Due, enabled: &[Channel], now: NaiveDateTime) -> Option<Finish> {
        let skip = |why: &str| Finish {
            state: State::Skipped,
            next_at: None,
            provider_ref: None,
            error: Some(why.to_string()),
            uncount: false,
            tried: false,
            doubt: false,
        };
        // An earlier attempt may have arrived: resend only while the provider would drop the
        // repeat (never for e-mail, whose window is nil).
        let window = model::dedupe_window(x.channel)
            .checked_sub(&Duration::seconds(60))
            .unwrap_or_default();
        if x.in_doubt
            && x.first_try_at
                .is_none_or(|t| now >= crate::time::plus(t, window))
        {
            return Some(Finish {
                state: State::Failed,
                error: Some(model::IN_DOUBT.into()),
                ..skip("")
            });
        }
        if !x.consent {
            return Some(skip("会员未同意或已撤回同意"));
        }
        if !enabled.contains(&x.channel) {
            return Some(skip("通道已关闭"));
        }
        if x.address.is_none() {
            return Some(skip("会员已解除绑定或没有联系方式"));
        }
        self.paused_until(x.channel, now).map(defer)
    }

    /// A rate-limit answer: the channel rests for a minute from `now`.
    fn pause(&self, ch: Channel, now: NaiveDateTime) {
        let until = crate::time::plus(now, Duration::seconds(60));
        let mut map = self
            .paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let t = map.entry(ch).or_insert(until);
        *t = (*t).max(until);
    }

    fn paused_until(&self, ch: Channel, now: NaiveDateTime) -> Option<NaiveDateTime> {
        let map = self
            .paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&ch).copied().filter(|t| *t > now)
    }

    /// Send on `workers` threads of our own; results in the order of `go` (`None`: not started,
    /// the deadline passed or the instance is stopping).
    fn send_all(
        &self,
        go: &[Due],
        templates: &HashMap<Kind, String>,
        deadline: Instant,
    ) -> Vec<Option<Outcome>> {
        let ctx = Ctx {
            agent: &self.agent,
            tokens: &self.tokens,
            channels: &self.config.channels,
            public_url: &self.config.public_url,
            templates,
        };
        let next = AtomicUsize::new(0);
        let results: Vec<Mutex<Option<Outcome>>> = go.iter().map(|_| Mutex::new(None)).collect();
        let workers = self.config.channels.workers.clamp(1, 32).min(go.len());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let (Some(x), Some(slot)) = (go.get(i), results.get(i)) else {
                        break;
                    };
                    if Instant::now() >= deadline || (self.stop)() {
                        break;
                    }
                    // A channel that answered "too many" rests; its slot in the pace may lie
                    // past the deadline. Either way this one waits for a later round.
                    let now = self.config.clock.now();
                    if self.paused_until(x.channel, now).is_some()
                        || !self.pace.take(x.channel, deadline)
                    {
                        continue;
                    }
                    let o = adapters::send(&ctx, x);
                    // Rest the channel at once, so the rest of this round waits too.
                    if matches!(o, Outcome::Paused(_)) {
                        self.pause(x.channel, self.config.clock.now());
                    }
                    *slot
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(o);
                });
            }
        });
        results
            .into_iter()
            .map(|m| {
                m.into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            })
            .collect()
    }

    /// An outcome becomes the delivery's next state.
    fn judge(&self, x: &Due, o: Outcome, now: NaiveDateTime) -> Finish {
        let fin = |state, next_at, provider_ref, error| Finish {
            state,
            next_at,
            provider_ref,
            error,
            uncount: false,
            tried: true,
            doubt: false,
        };
        let retry = |e: String, wait: Duration| {
            if x.attempts >= plan::MAX_ATTEMPTS {
                fin(
                    State::Failed,
                    None,
                    None,
                    Some(format!("重试 {} 次仍失败：{e}", x.attempts)),
                )
            } else {
                fin(
                    State::Retry,
                    Some(crate::time::plus(now, wait)),
                    None,
                    Some(e),
                )
            }
        };
        let wait = plan::backoff(x.attempts, f64::from(x.id.rem_euclid(97)) / 97.0);
        match o {
            Outcome::Sent(r) => fin(State::Sent, None, r, None),
            Outcome::Retry(e) => retry(e, wait),
            // SMTP has no duplicate check: an e-mail that may have arrived is never sent again.
            Outcome::Doubt(e) if x.channel == Channel::Email => fin(
                State::Failed,
                None,
                None,
                Some(format!("{e}，为免重复未再发送")),
            ),
            Outcome::Doubt(e) => Finish {
                doubt: true,
                ..retry(e, wait)
            },
            // The channel was paused when the answer came (`send_all`).
            Outcome::Paused(e) => retry(e, Duration::seconds(61)),
            Outcome::Failed(e) => fin(State::Failed, None, None, Some(e)),
            Outcome::Unreachable(e) => {
                log::info!(
                    "outbox: member {} unreachable on {}: {e}",
                    x.member_id,
                    x.channel
                );
                fin(State::Failed, None, None, Some(UNREACHABLE_MARK.into()))
            }
        }
    }
}

/// The failed delivery's error when the provider could not reach the member there.
pub const UNREACHABLE_MARK: &str = "服务商无法送达该会员（已解除该通道，之后改走其他通道）";
/// Settings key: channels an administrator switched off.
pub const OFF_KEY: &str = "channels.off";
/// Settings key prefix: WeChat template id per kind.
pub const TEMPLATE_KEY: &str = "channels.wechat.template.";

/// Deliveries claimed per round: what the pace lets out before the round stops starting sends
/// (¾ of the claim time), at least a few per worker, at most 200: a sender killed mid-round
/// leaves its claim, and a claimed e-mail is never resent (SMTP has no duplicate check), so the
/// claim is what a crash can cost in e-mails shown as failed.
fn claim_size(channels: &crate::config::ChannelsConfig, ttl: Duration) -> i64 {
    let workers = i64::try_from(channels.workers.clamp(1, 32)).unwrap_or(4);
    let paced = i64::from(channels.rate())
        .saturating_mul(ttl.num_seconds())
        .saturating_mul(3)
        / 4;
    paced.clamp(workers.saturating_mul(3), 200)
}

/// Requests spaced evenly per channel: each takes the next free slot, `gap` after the one
/// before (one sender per cluster holds the lease, so this is the cluster's pace).
struct Pace {
    gap: std::time::Duration,
    next: Mutex<HashMap<Channel, Instant>>,
}

impl Pace {
    fn new(per_second: u32) -> Pace {
        Pace {
            gap: std::time::Duration::from_secs(1)
                .checked_div(per_second.max(1))
                .unwrap_or_default(),
            next: Mutex::default(),
        }
    }

    /// Wait for this channel's next slot; `false` (and no slot used) if it lies past `deadline`.
    fn take(&self, ch: Channel, deadline: Instant) -> bool {
        let at = {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let at = next.get(&ch).copied().filter(|t| *t > now).unwrap_or(now);
            if at >= deadline {
                return false;
            }
            next.insert(ch, at.checked_add(self.gap).unwrap_or(at));
            at
        };
        let wait = at.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        true
    }
}

fn defer(at: NaiveDateTime) -> Finish {
    Finish {
        state: State::Retry,
        next_at: Some(at),
        provider_ref: None,
        error: None,
        uncount: true,
        tried: false,
        doubt: false,
    }
}

fn templates(conn: &mut DbConnection) -> AppResult<HashMap<Kind, String>> {
    let mut out = HashMap::new();
    for k in Kind::ALL {
        if let Some(t) = crate::settings::get(conn, &format!("{TEMPLATE_KEY}{}", k.as_str()))? {
            if !t.trim().is_empty() {
                out.insert(*k, t.trim().to_string());
            }
        }
    }
    Ok(out)
}

/// Turn new messages into deliveries: channels by consent, preference and reach; held for quiet
/// hours. One transaction per round, so a message is planned exactly once.
pub fn plan_round(
    conn: &mut DbConnection,
    enabled: &[Channel],
    now: NaiveDateTime,
) -> AppResult<usize> {
    let msgs = model::unplanned(conn, PLAN_BATCH)?;
    if msgs.is_empty() {
        return Ok(0);
    }
    let mut ids: Vec<i32> = msgs.iter().map(|m| m.member_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let facts = model::facts(conn, &ids)?;
    db::write_tx(conn, |c| {
        let mut n = 0usize;
        for msg in &msgs {
            let f = facts.get(&msg.member_id).cloned().unwrap_or_default();
            let quiet = f.quiet.unwrap_or(plan::DEFAULT_QUIET);
            let held = plan::held_until(now, msg.urgent, quiet, msg.member_id);
            let planned: Vec<Planned> = plan::choose(msg.kind, &f, enabled)
                .into_iter()
                .map(|channel| Planned {
                    channel,
                    state: if held.is_some() {
                        State::Held
                    } else {
                        State::Queued
                    },
                    next_at: held.unwrap_or(now),
                })
                .collect();
            if model::save_plan(c, msg, &planned, now)? {
                n = n.saturating_add(1);
            }
        }
        Ok(n)
    })
}

/// The sender's thread: rounds until the instance stops; a busy round is followed at once by
/// the next, an idle one by a two-second rest. `done` turns true when it has finished.
pub fn spawn(
    sender: Arc<Sender>,
    holder: String,
    stopping: impl Fn() -> bool + Send + 'static,
    done: Arc<AtomicBool>,
) {
    let started = std::thread::Builder::new()
        .name("outbox".into())
        .spawn(move || {
            while !stopping() {
                let start = Instant::now();
                let busy = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    sender.run_once(&holder)
                })) {
                    Ok(Ok(r)) => {
                        if r.sent > 0 || r.failed > 0 {
                            log::info!(
                                "outbox: {} sent, {} failed, {} to retry, {} deferred",
                                r.sent,
                                r.failed,
                                r.retried,
                                r.deferred
                            );
                        }
                        Some(r.busy())
                    }
                    Ok(Err(e)) => {
                        log::warn!("outbox round failed: {e}");
                        None
                    }
                    Err(p) => {
                        let msg = crate::web::middleware::panic_message(p.as_ref());
                        log::error!("outbox round panicked: {msg}");
                        None
                    }
                };
                if let Some(m) = &sender.metrics {
                    m.job("outbox", busy.is_some(), start.elapsed());
                }
                let busy = busy.unwrap_or(false);
                if !busy {
                    std::thread::sleep(std::time::Duration::from_secs(2));
                }
            }
            done.store(true, Ordering::SeqCst);
        });
    if let Err(e) = started {
        log::error!("cannot start the outbox sender: {e}");
    }
}
