//! Database access: the two-backend connection type, the pool, migrations and the one helper
//! (`run`) that moves blocking diesel work off the actix worker threads.

pub mod dialect;
pub mod ids;
pub mod schema;
pub mod text_enum;

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::Error as ManagerError;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use r2d2::ManageConnection;

use crate::error::{AppError, AppResult};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection type for both backends; the variant is chosen by the URL scheme.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Run `$body` with `$c` bound to the backend's own connection (`SqliteConnection` or
/// `PgConnection`), for the statements every page runs. There diesel finds a prepared statement
/// by its type alone; through the `DbConnection` wrapper it renders the SQL text again on every
/// run to collect the binds (~7 % of a list page's CPU in perf). Same query, same result.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgres($c) => $body,
        }
    };
}

/// The connection pool with a queue in front of it: `run` waits (asynchronously, first come
/// first served) for one of `max_size` permits before it takes a blocking thread and a
/// connection. A burst then waits in line instead of parking a thread per request on r2d2's
/// checkout timeout, which turned into 500s under load (2,000 sign-ups at once in a test).
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<Manager>,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// How long `run` waited for a connection (its turn, then the checkout): `/metrics`.
    waits: std::sync::Arc<crate::metrics::Histogram>,
}

impl Pool {
    pub fn waits(&self) -> &crate::metrics::Histogram {
        &self.waits
    }

    /// Turns free right now (at most the pool's size).
    pub fn free_turns(&self) -> usize {
        self.permits.available_permits()
    }
}

impl std::ops::Deref for Pool {
    type Target = r2d2::Pool<Manager>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Where the data lives, parsed from `ZHIJIA_DATABASE_URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<DbUrl, String> {
        if let Some(rest) = url.strip_prefix("sqlite://") {
            if rest.is_empty() {
                return Err("sqlite:// 地址缺少文件路径 (e.g. sqlite://data/zhijia.db)".into());
            }
            Ok(DbUrl::Sqlite(PathBuf::from(rest)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbUrl::Postgres(url.to_string()))
        } else {
            Err(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://USER@HOST/DB"
            ))
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, DbUrl::Sqlite(_))
    }
}

/// r2d2 manager that opens the backend named by the URL (diesel's own tries each in turn, and
/// SQLite accepts almost any string) and applies the SQLite pragmas on every new connection.
#[derive(Clone, Debug)]
pub struct Manager {
    url: DbUrl,
    /// Counts every statement run on the pool's connections (tests use it to bound queries).
    counter: Option<QueryCounter>,
}

/// A shared statement counter.
pub type QueryCounter = std::sync::Arc<std::sync::atomic::AtomicUsize>;

impl Manager {
    pub fn new(url: DbUrl) -> Self {
        Manager { url, counter: None }
    }

    pub fn counting(url: DbUrl, counter: QueryCounter) -> Self {
        Manager {
            url,
            counter: Some(counter),
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = ManagerError;

    fn connect(&self) -> Result<DbConnection, ManagerError> {
        let mut conn = self.open()?;
        if let Some(c) = self.counter.clone() {
            conn.set_instrumentation(move |e: diesel::connection::InstrumentationEvent<'_>| {
                if let diesel::connection::InstrumentationEvent::StartQuery { .. } = e {
                    c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ManagerError> {
        conn.batch_execute("SELECT 1")
            .map_err(ManagerError::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

impl Manager {
    fn open(&self) -> Result<DbConnection, ManagerError> {
        match &self.url {
            DbUrl::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn = diesel::SqliteConnection::establish(&path)
                    .map_err(ManagerError::ConnectionError)?;
                // busy_timeout first: switching to WAL may itself wait for a lock.
                // synchronous=FULL: a commit that returned is on disk, even after a power cut.
                // cache_size: 1 MiB per connection keeps the process small (docs/performance.md).
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;
                     PRAGMA cache_size = -1024;",
                )
                .map_err(ManagerError::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DbUrl::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConnection::Postgres)
                .map_err(ManagerError::ConnectionError),
        }
    }
}

/// Build the pool. SQLite files get their directory created first.
pub fn build_pool(url: &DbUrl, max_size: u32) -> AppResult<Pool> {
    build_pool_with(Manager::new(url.clone()), url, max_size)
}

/// Build a pool whose connections count their statements into `counter`.
pub fn build_counting_pool(url: &DbUrl, max_size: u32, counter: QueryCounter) -> AppResult<Pool> {
    build_pool_with(Manager::counting(url.clone(), counter), url, max_size)
}

fn build_pool_with(manager: Manager, url: &DbUrl, max_size: u32) -> AppResult<Pool> {
    if let DbUrl::Sqlite(path) = url {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| AppError::Internal(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    // Switch a new SQLite file to WAL once, alone: WAL is persistent, and several pool
    // connections switching at the same moment race for the lock and fail with "locked".
    if url.is_sqlite() {
        Manager::new(url.clone())
            .connect()
            .map_err(|e| AppError::Internal(format!("cannot open database: {e}")))?;
    }
    let size = max_size.max(2);
    let inner = r2d2::Pool::builder()
        .max_size(size)
        .connection_timeout(Duration::from_secs(5))
        // No `SELECT 1` before every checkout: a broken connection fails its query and is
        // replaced, and pages save a round trip each.
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| AppError::Internal(format!("cannot open database: {e}")))?;
    Ok(Pool {
        inner,
        permits: std::sync::Arc::new(tokio::sync::Semaphore::new(size as usize)),
        waits: std::sync::Arc::default(),
    })
}

/// Run the embedded migrations of the connection's backend. On PostgreSQL an advisory lock
/// keeps several instances starting at once from racing each other.
pub fn migrate(conn: &mut DbConnection) -> AppResult<usize> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(|e| AppError::Internal(format!("migration failed: {e}")))?
            .len(),
        DbConnection::Postgres(c) => {
            c.batch_execute("SELECT pg_advisory_lock(727100)")?;
            let res = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len())
                .map_err(|e| AppError::Internal(format!("migration failed: {e}")));
            c.batch_execute("SELECT pg_advisory_unlock(727100)")?;
            res?
        }
    };
    Ok(applied)
}

/// Run blocking database work on actix's blocking pool with a pooled connection. This is the only
/// place that touches `pool.get()` and `web::block`.
pub async fn run<T, F>(pool: &Pool, f: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let asked = std::time::Instant::now();
    let _turn = pool
        .permits
        .acquire()
        .await
        .map_err(|_| AppError::Internal("database pool closed".into()))?;
    let (waits, pool) = (pool.waits.clone(), pool.inner.clone());
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        waits.observe(asked.elapsed());
        f(&mut conn)
    })
    .await?
}

/// Short reads on SQLite run right on the async worker when a pooled connection is free at once:
/// WAL readers never wait for writers, so this saves a hop to the blocking pool on every page
/// (the session and user lookup). Returns None (caller falls back to `run`) on PostgreSQL or
/// when no connection is idle. Never use it for writes.
pub fn try_read_inline<T, F>(pool: &Pool, sqlite: bool, f: F) -> Option<AppResult<T>>
where
    F: FnOnce(&mut DbConnection) -> AppResult<T>,
{
    if !sqlite {
        return None;
    }
    let mut conn = pool.try_get()?;
    Some(f(&mut conn))
}

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so a read-then-write
/// transaction takes the write lock up front instead of failing with SQLITE_BUSY on upgrade.
pub fn write_tx<T, F>(conn: &mut DbConnection, f: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConnection) -> AppResult<T>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let outermost_sqlite = match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()?
            .is_none(),
        DbConnection::Postgres(_) => false,
    };
    if let (true, DbConnection::Sqlite(c)) = (outermost_sqlite, &mut *conn) {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
        let result = f(conn);
        let DbConnection::Sqlite(c) = conn else {
            unreachable!("backend cannot change inside a transaction")
        };
        return match result {
            Ok(v) => match AnsiTransactionManager::commit_transaction(c) {
                Ok(()) => Ok(v),
                Err(e) => {
                    let _ = AnsiTransactionManager::rollback_transaction(c);
                    Err(e.into())
                }
            },
            Err(e) => {
                AnsiTransactionManager::rollback_transaction(c)?;
                Err(e)
            }
        };
    }
    conn.transaction(f)
}

/// The backend of a pooled connection, for the rare query that must differ.
pub fn is_sqlite(conn: &DbConnection) -> bool {
    matches!(conn, DbConnection::Sqlite(_))
}
