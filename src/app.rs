//! Start-up and the one route table: migrations → pool → state → HttpServer, and the
//! background jobs. `Instance` is one process's state: the shared `AppState` and each
//! feature's runtime state, each registered as its own `web::Data`.

use actix_web::middleware::{from_fn, Compress};
use actix_web::{web, App, HttpServer};

use crate::auth::password::Hasher;
use crate::config::Config;
use crate::db;
use crate::error::{AppError, AppResult};

pub use crate::state::AppState;

/// One instance: the shared state and each feature's runtime state, registered separately.
/// Derefs to the shared state, so `instance.pool` reads as before.
#[derive(Clone)]
pub struct Instance {
    pub shared: web::Data<AppState>,
    /// Article views not yet written to the database.
    pub views: web::Data<crate::news::service::ViewCounter>,
    /// Engagement events not yet written to the database.
    pub events: web::Data<crate::engagement::EventBuffer>,
    /// This instance's trained sign-up forecast.
    pub forecast: web::Data<crate::forecast::service::ForecastState>,
    /// The sign-in handlers' HTTP client and WeCom token (OAuth from the WeCom/WeChat menus).
    pub oauth: web::Data<crate::channels::oauth::Client>,
    /// Wrong receipt codes per address (anonymous grievance follow-up).
    pub track: web::Data<crate::grievances::handlers::TrackLimiter>,
    /// Wrong progress codes per address (入会 applications).
    pub join: web::Data<crate::membership::join_pages::JoinLimiter>,
}

impl std::ops::Deref for Instance {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.shared
    }
}

/// Open the database, apply migrations and build the state (used by `serve` and by tests).
pub fn build_state(config: Config) -> AppResult<Instance> {
    let pool = match &config.query_counter {
        Some(c) => db::build_counting_pool(&config.database, config.pool_size, c.clone())?,
        None => db::build_pool(&config.database, config.pool_size)?,
    };
    let mut conn = pool.get()?;
    let applied = db::migrate(&mut conn)?;
    if applied > 0 {
        log::info!("applied {applied} database migration(s)");
    }
    drop(conn);
    let hasher = Hasher::new(config.hash_cost)?;
    let events = crate::engagement::EventBuffer::new(config.events, &config.secret_key);
    Ok(Instance {
        shared: web::Data::new(AppState {
            pool,
            config,
            hasher,
            labels: Default::default(),
            stopping: Default::default(),
            metrics: Default::default(),
        }),
        views: web::Data::new(Default::default()),
        events: web::Data::new(events),
        forecast: web::Data::new(Default::default()),
        oauth: web::Data::new(Default::default()),
        track: web::Data::new(crate::grievances::handlers::TrackLimiter(
            crate::web::RateLimiter::new(10, std::time::Duration::from_secs(600)),
        )),
        join: web::Data::new(crate::membership::join_pages::JoinLimiter(
            crate::web::RateLimiter::new(10, std::time::Duration::from_secs(600)),
        )),
    })
}

/// Routes and middleware of the whole site.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/static/{file:.*}",
        web::get().to(crate::web::assets::serve),
    );
    crate::home::routes(cfg);
    crate::auth::handlers::routes(cfg);
    // Before the member pages: "/admin/members/import" is not a member id.
    crate::members::import_admin::routes(cfg);
    crate::members::admin::routes(cfg);
    crate::membership::routes(cfg);
    crate::proposals::pages::routes(cfg);
    crate::proposals::admin::routes(cfg);
    crate::mailbox::pages::routes(cfg);
    crate::org::admin::routes(cfg);
    crate::audit::admin::routes(cfg);
    crate::workflow::admin::routes(cfg);
    crate::audit::privacy::routes(cfg);
    crate::members::mydata::routes(cfg);
    crate::notifications::routes(cfg);
    crate::channels::routes(cfg);
    crate::cadre::routes(cfg);
    crate::grievances::routes(cfg);
    crate::benefits::routes(cfg);
    crate::news::routes(cfg);
    crate::showcase::routes(cfg);
    crate::activities::routes(cfg);
    crate::surveys::routes(cfg);
    crate::comments::routes(cfg);
    crate::engagement::dashboard::routes(cfg);
    crate::search::routes(cfg);
}

/// The app as served and as tested: state, middleware, routes, and the 404 page.
pub fn app(
    state: Instance,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state.shared)
        .app_data(state.views)
        .app_data(state.events)
        .app_data(state.forecast)
        .app_data(state.oauth)
        .app_data(state.track)
        .app_data(state.join)
        .app_data(web::FormConfig::default().limit(64 * 1024))
        .app_data(web::PayloadConfig::new(256 * 1024))
        .app_data(
            web::QueryConfig::default()
                .error_handler(|_, _| AppError::Validation("链接参数有误".into()).into()),
        )
        .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
        .wrap(from_fn(crate::web::quota::enforce))
        .wrap(from_fn(crate::web::middleware::catch_panic))
        .wrap(from_fn(crate::web::middleware::site))
        .wrap(Compress::default())
        .wrap(from_fn(crate::web::middleware::head_as_get))
        .wrap(from_fn(crate::web::middleware::metrics))
        .wrap(from_fn(crate::web::middleware::access_log))
        .configure(configure)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(AppError::NotFound)
        }))
}

/// Serve until stopped. Logs the one-time setup link on an install without an administrator.
pub async fn run(mut config: Config) -> AppResult<()> {
    let bind = config.bind.clone();
    let listener = std::net::TcpListener::bind(&bind)
        .map_err(|e| AppError::Internal(format!("cannot listen on {bind}: {e}")))?;
    // Without a configured address, links name the address actually listened on (port 0
    // picks one when the server starts).
    if let Ok(addr) = listener.local_addr() {
        if config.public_url.ends_with(":0") {
            config.public_url = format!("http://{addr}");
        }
    }
    let state = build_state(config)?;
    let st = state.clone();
    let now = state.config.clock.now();
    if let Some(token) = db::run(&state.pool, move |conn| {
        crate::auth::service::ensure_setup_token(conn, now)
    })
    .await?
    {
        let link = state.config.absolute(&format!("/setup?token={token}"));
        log::warn!(
            "no administrator yet: open {link} once to create one (this link stops working afterwards)"
        );
    }
    log::info!(
        "absolute links (QR codes) start with {} (ZHIJIA_PUBLIC_URL)",
        state.config.public_url
    );
    // Blocking threads beyond the pool size would only queue for a connection: fewer threads,
    // fewer wake-ups and malloc arenas (measured in docs/performance.md).
    let blocking = (state.config.pool_size as usize).max(2);
    let server = HttpServer::new(move || app(st.clone()))
        .worker_max_blocking_threads(blocking)
        .shutdown_timeout(state.config.shutdown_secs)
        // Signals are ours: /readyz must fail before the listener closes.
        .disable_signals()
        .listen(listener)
        .map_err(|e| AppError::Internal(format!("cannot listen on {bind}: {e}")))?;
    for addr in server.addrs() {
        log::info!("zhijia listening on http://{addr}");
    }
    // This instance's name on job leases, given up when it stops.
    let holder = crate::auth::random_token(8);
    log::info!("job leases are held as {holder}");
    let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(false);
    let jobs = spawn_jobs(state.clone(), holder.clone(), jobs_stopped);
    let sender_done = spawn_sender(&state, &holder);
    let server = server.run();
    stop_on_signal(state.clone(), server.handle());
    let result = server
        .await
        .map_err(|e| AppError::Internal(format!("server stopped: {e}")));
    // A clean stop lets a running job round finish and starts no other, keeps buffered views
    // and events, and hands the lease on at once.
    let _ = stop_jobs.send(true);
    let _ = jobs.await;
    // The sender finishes the batch in hand (its sends time out within seconds), so its claims
    // are written before the lease goes.
    state
        .stopping
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..150 {
        if sender_done.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    flush_buffers(&state).await;
    let released = db::run(&state.pool, move |conn| {
        crate::workflow::lease::release_all(conn, &holder)
    })
    .await;
    if let Err(e) = released {
        log::warn!("releasing job leases failed: {e}");
    }
    log::info!("stopped; buffered views and engagement events written, leases released");
    result
}

/// On SIGTERM or Ctrl-C: mark the instance stopping, so /readyz answers 503 while it still
/// serves for a short drain (a third of the shutdown time, at most 5 s) and a balancer polling
/// it moves on; then stop accepting and let in-flight requests finish within the shutdown time.
fn stop_on_signal(state: Instance, handle: actix_web::dev::ServerHandle) {
    actix_web::rt::spawn(async move {
        wait_for_signal().await;
        state
            .stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let drain = (state.config.shutdown_secs / 3).min(5);
        log::info!(
            "stopping: /readyz fails now, new connections refused in {drain} s, then in-flight requests get {} s",
            state.config.shutdown_secs
        );
        actix_web::rt::time::sleep(std::time::Duration::from_secs(drain)).await;
        handle.stop(true).await;
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            let ctrl_c = Box::pin(tokio::signal::ctrl_c());
            futures_util::future::select(Box::pin(term.recv()), ctrl_c).await;
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Write buffered article views and engagement events.
pub async fn flush_buffers(state: &Instance) {
    let s = state.clone();
    if let Err(e) = db::run(&state.pool, move |conn| s.views.flush(conn)).await {
        log::warn!("view count flush failed: {e}");
    }
    let s = state.clone();
    if let Err(e) = db::run(&state.pool, move |conn| s.events.flush(conn)).await {
        log::warn!("engagement event flush failed: {e}");
    }
}

/// Background jobs, every minute: grievance deadlines (under a lease, so one instance of many
/// does the work each round) and expired-session cleanup. The returned task ends, after any
/// round in progress, once `stop` turns true.
fn spawn_jobs(
    state: Instance,
    holder: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> actix_web::rt::task::JoinHandle<()> {
    let views = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(2));
        loop {
            tick.tick().await;
            guarded(&views.metrics, "flush", flush_buffers(&views)).await;
        }
    });
    let every = state.config.job_tick_secs.max(2);
    spawn_forecast_job(state.clone(), holder.clone(), every);
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(every));
        // A late round is followed by a full interval, never by a burst of catch-up rounds.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next = Box::pin(tick.tick());
            let stopped = Box::pin(stop.wait_for(|s| *s));
            if let futures_util::future::Either::Right(_) =
                futures_util::future::select(next, stopped).await
            {
                break;
            }
            guarded(
                &state.metrics,
                "deadlines",
                minute_jobs(&state.shared, &holder),
            )
            .await;
        }
    })
}

/// The outbox sender on a thread of its own (its HTTP calls block; they must not take the
/// pages' blocking threads). Returns the flag it sets when it has stopped.
fn spawn_sender(state: &Instance, holder: &str) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let shared = state.shared.clone();
    let watching = state.shared.clone();
    let sender = crate::outbox::sender::Sender::new(state.pool.clone(), state.config.clone())
        .with_stop(move || watching.stopping.load(std::sync::atomic::Ordering::SeqCst))
        .with_metrics(state.metrics.clone());
    crate::outbox::sender::spawn(
        std::sync::Arc::new(sender),
        holder.to_string(),
        move || shared.stopping.load(std::sync::atomic::Ordering::SeqCst),
        done.clone(),
    );
    done
}

/// The forecast's own loop (training may take a minute at group scale; it must not hold up
/// the deadlines): each tick, train under the lease when due, then take up the newest model.
fn spawn_forecast_job(state: Instance, holder: String, every: u64) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if state.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            guarded(
                &state.metrics,
                "forecast",
                forecast_round(&state, &holder, every),
            )
            .await;
        }
    });
}

async fn forecast_round(state: &Instance, holder: &str, every: u64) {
    let now = state.config.clock.now();
    let (h, st) = (holder.to_string(), state.forecast.clone());
    let every = i64::try_from(every).unwrap_or(60);
    let res = db::run(&state.pool, move |conn| {
        let trained = crate::forecast::service::train_round(conn, &h, now, every)?;
        st.refresh_if_newer(conn, now)?;
        Ok(trained)
    })
    .await;
    match res {
        Ok(Some(line)) => log::info!("forecast model trained: {line}"),
        Ok(None) => {}
        Err(e) => log::warn!("forecast training failed: {e}"),
    }
}

/// Run one round of a background job; a panic in it is logged and the next round runs.
/// Each round counts in `/metrics` (rounds, panics, duration).
async fn guarded(
    metrics: &crate::metrics::Registry,
    name: &'static str,
    job: impl std::future::Future<Output = ()>,
) {
    use futures_util::FutureExt;
    let start = std::time::Instant::now();
    let res = std::panic::AssertUnwindSafe(job).catch_unwind().await;
    metrics.job(name, res.is_ok(), start.elapsed());
    if let Err(payload) = res {
        let msg = crate::web::middleware::panic_message(payload.as_ref());
        log::error!("background job {name} panicked: {msg}; it runs again on the next tick");
    }
}

/// The once-a-minute round: session cleanup, and under the lease engagement housekeeping and
/// grievance deadlines, recorded in `job_runs` by tick.
async fn minute_jobs(state: &web::Data<AppState>, holder: &str) {
    let now = state.config.clock.now();
    let every = i64::try_from(state.config.job_tick_secs.max(2)).unwrap_or(60);
    let h = holder.to_string();
    let res = db::run(&state.pool, move |conn| {
        crate::auth::session::purge_expired(conn, now)?;
        crate::audit::release_deferred(conn, now)?;
        crate::members::batches::purge(conn, now)?;
        crate::web::quota::sweep(conn, now)?;
        // Held for one round: the holder renews it on its next tick; if the holder dies, the
        // lease has lapsed by the round after (a clean stop releases it at once).
        let ttl = chrono::Duration::seconds(every);
        if !crate::workflow::lease::try_acquire(conn, "deadlines", &h, now, ttl)? {
            return Ok((0, 0));
        }
        let tick = crate::workflow::lease::tick_start(now, every);
        if !crate::workflow::lease::claim_run(conn, "deadlines", tick, &h)? {
            return Ok((0, 0));
        }
        // Cheap when nothing is due: only finished, not yet rolled-up days are done.
        let (days, purged) = crate::engagement::housekeeping(conn, now)?;
        if days > 0 || purged > 0 {
            log::info!("engagement: {days} day(s) rolled up, {purged} old event(s) removed");
        }
        crate::outbox::model::purge(conn, now)?;
        // A failure here is logged and never stops the deadlines below.
        match crate::membership::leave::run_retention(conn, now) {
            Ok(0) => {}
            Ok(n) => log::info!("membership: {n} member(s) past the retention period anonymised"),
            Err(e) => log::error!("membership retention failed this round: {e}"),
        }
        let late = crate::proposals::run_deadlines(conn, now)?;
        if late > 0 {
            log::info!("proposals: {late} answer(s) past their deadline escalated");
        }
        crate::grievances::service::run_deadlines(conn, now)
    })
    .await;
    match res {
        Ok((0, 0)) => {}
        Ok((e, c)) => log::info!("deadlines: {e} case(s) escalated, {c} closed"),
        Err(e) => log::warn!("background job failed: {e}"),
    }
}
