//! Start-up and the one route table: migrations → pool → state → HttpServer.

use actix_web::middleware::{from_fn, Compress, Logger};
use actix_web::{web, App, HttpServer};

use crate::auth::password::Hasher;
use crate::config::Config;
use crate::db::{self, Pool};
use crate::error::{AppError, AppResult};

/// Shared by every request.
pub struct AppState {
    pub pool: Pool,
    pub config: Config,
    pub hasher: Hasher,
}

/// Open the database, apply migrations and build the state (used by `serve` and by tests).
pub fn build_state(config: Config) -> AppResult<web::Data<AppState>> {
    let pool = db::build_pool(&config.database, config.pool_size)?;
    let mut conn = pool.get()?;
    let applied = db::migrate(&mut conn)?;
    if applied > 0 {
        log::info!("applied {applied} database migration(s)");
    }
    drop(conn);
    let hasher = Hasher::new(config.hash_cost)?;
    Ok(web::Data::new(AppState {
        pool,
        config,
        hasher,
    }))
}

/// Routes and middleware of the whole site.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/static/{file:.*}",
        web::get().to(crate::web::assets::serve),
    );
    crate::home::routes(cfg);
    crate::auth::handlers::routes(cfg);
    crate::members::admin::routes(cfg);
    crate::org::admin::routes(cfg);
    crate::audit::admin::routes(cfg);
    crate::notifications::routes(cfg);
}

/// The app as served and as tested: state, middleware, routes, and the 404 page.
pub fn app(
    state: web::Data<AppState>,
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
        .app_data(state)
        .app_data(web::FormConfig::default().limit(64 * 1024))
        .app_data(web::PayloadConfig::new(256 * 1024))
        .app_data(
            web::QueryConfig::default()
                .error_handler(|_, _| AppError::Validation("链接参数有误".into()).into()),
        )
        .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
        .wrap(from_fn(crate::web::middleware::site))
        .wrap(Compress::default())
        .wrap(Logger::new("%{r}a \"%r\" %s %b %Dms").exclude("/healthz"))
        .configure(configure)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(AppError::NotFound)
        }))
}

/// Serve until stopped. Logs the one-time setup link on an install without an administrator.
pub async fn run(config: Config) -> AppResult<()> {
    let bind = config.bind.clone();
    let secure = config.secure_cookies;
    let state = build_state(config)?;
    let st = state.clone();
    let now = state.config.clock.now();
    if let Some(token) = db::run(&state.pool, move |conn| {
        crate::auth::service::ensure_setup_token(conn, now)
    })
    .await?
    {
        let scheme = if secure { "https" } else { "http" };
        log::warn!(
            "no administrator yet: open {scheme}://{bind}/setup?token={token} once to create one (this link stops working afterwards)"
        );
    }
    let server = HttpServer::new(move || app(st.clone()))
        .bind(&bind)
        .map_err(|e| AppError::Internal(format!("cannot listen on {bind}: {e}")))?;
    for addr in server.addrs() {
        log::info!("zhijia listening on http://{addr}");
    }
    // Housekeeping: drop expired sessions every 10 minutes.
    let housekeeping = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            let now = housekeeping.config.clock.now();
            if let Err(e) = db::run(&housekeeping.pool, move |conn| {
                crate::auth::session::purge_expired(conn, now)
            })
            .await
            {
                log::warn!("session purge failed: {e}");
            }
        }
    });
    server
        .run()
        .await
        .map_err(|e| AppError::Internal(format!("server stopped: {e}")))
}
