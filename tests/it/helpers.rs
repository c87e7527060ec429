//! TestApp: the real app in-process on a fresh database (a temp SQLite file, or a fresh
//! PostgreSQL database when ZHIJIA_TEST_PG_URL is set), with a cookie jar and form helpers.

use std::collections::HashMap;
use std::sync::Once;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use zhijia::config::{Clock, Config, HashCost};
use zhijia::db::DbUrl;
use zhijia::Instance;

pub use crate::builders::*;

pub struct Resp {
    pub status: StatusCode,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Resp {
    /// A "does not contain" with its positive half: the page itself came back (200, a real
    /// page with its main content), so an error page or a redirect cannot pass for it.
    pub fn assert_ok_without(&self, needle: &str) -> &Self {
        self.assert_status(200);
        assert!(self.body.contains("<main"), "not a page:\n{}", self.body);
        assert!(
            !self.body.contains(needle),
            "body contains {needle:?}:\n{}",
            self.body
        );
        self
    }

    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[track_caller]
    pub fn assert_status(&self, s: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            s,
            "unexpected status; body:\n{}",
            self.body
        );
        self
    }

    #[track_caller]
    pub fn assert_contains(&self, needle: &str) -> &Self {
        assert!(
            self.body.contains(needle),
            "body lacks {needle:?}:\n{}",
            self.body
        );
        self
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).expect("page has no csrf field") + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_string()
    }
}

/// Where a test's data lives; dropped with the test.
pub enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile_dir::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            if let Ok(mut c) = diesel::PgConnection::establish(admin_url) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A tiny temp-dir type so the suite needs no extra crate.
pub mod tempfile_dir {
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new() -> Self {
            let p = std::env::temp_dir()
                .join(format!("zhijia-test-{}", zhijia::auth::random_token(10)));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

static SWEEP: Once = Once::new();

pub fn pg_base_url() -> Option<String> {
    std::env::var("ZHIJIA_TEST_PG_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

fn with_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    format!("{host}/{name}{query}")
}

/// A fresh database for one test.
pub fn fresh_db() -> (DbUrl, TestDb) {
    match pg_base_url() {
        Some(base) => {
            let admin_url = with_db_name(&base, "postgres");
            let mut admin =
                diesel::PgConnection::establish(&admin_url).expect("connect to PostgreSQL");
            SWEEP.call_once(|| {
                // Leftovers of earlier runs that were killed before dropping their databases.
                use diesel::prelude::*;
                #[derive(QueryableByName)]
                struct Name {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    datname: String,
                }
                let names: Vec<Name> = diesel::sql_query(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'zhijia_t_%'",
                )
                .load(&mut admin)
                .unwrap_or_default();
                for n in names {
                    let _ = admin.batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        n.datname
                    ));
                }
            });
            let name = format!("zhijia_t_{}", zhijia::auth::random_token(8).to_lowercase());
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create test database");
            (
                DbUrl::Postgres(with_db_name(&base, &name)),
                TestDb::Postgres { admin_url, name },
            )
        }
        None => {
            let dir = tempfile_dir::TempDir::new();
            let path = dir.0.join("test.db");
            (DbUrl::Sqlite(path), TestDb::Sqlite(dir))
        }
    }
}

/// The instant every test starts at (UTC): Wednesday 2026-05-13 10:00 Beijing time. Tests never
/// read the system clock; a test that needs another day moves the clock or pins its own.
pub const TEST_NOW: &str = "2026-05-13T02:00:00Z";

pub fn test_now() -> chrono::NaiveDateTime {
    chrono::DateTime::parse_from_rfc3339(TEST_NOW)
        .unwrap()
        .naive_utc()
}

/// The portal's configured address in tests: the only start an absolute link may have.
pub const PUBLIC_URL: &str = "https://union.example.test";

pub fn test_config(database: DbUrl) -> Config {
    Config {
        database,
        bind: "127.0.0.1:0".into(),
        secret_key: b"test-secret-key-test-secret-key-0123456789".to_vec(),
        secure_cookies: false,
        metrics_token: None,
        hash_cost: HashCost::TEST,
        pool_size: 4,
        clock: Clock::starting_at(test_now()),
        query_counter: Some(Default::default()),
        events: true,
        trusted_proxies: Vec::new(),
        public_url: PUBLIC_URL.into(),
        shutdown_secs: 5,
        job_tick_secs: 60,
        quota_scale: 1,
        channels: Default::default(),
    }
}

pub struct TestApp<S> {
    pub svc: S,
    /// The shared state (derefs to `AppState`) and each feature's runtime state.
    pub state: Instance,
    pub cookies: HashMap<String, String>,
    /// Set by tests that expect their session to end (revoked, disabled, timed out) and then
    /// post as an anonymous browser; otherwise a post after a lost session fails the test,
    /// so a refusal can never be "passed" by a bounce to the login page.
    pub session_may_end: bool,
    pub _db: TestDb,
}

/// A fresh app on a fresh database.
pub async fn spawn() -> TestApp<
    impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
> {
    let (url, db) = fresh_db();
    spawn_on(url, db).await
}

/// The base union with a changed configuration (e.g. quotas scaled for a load test).
pub async fn spawn_base_with(
    change: impl FnOnce(&mut Config),
) -> TestApp<
    impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
> {
    let (url, db) = base_db();
    spawn_configured(url, db, change).await
}

/// The app on a given database.
async fn spawn_on(
    url: DbUrl,
    db: TestDb,
) -> TestApp<
    impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
> {
    spawn_configured(url, db, |_| {}).await
}

/// The app on a given database with the test configuration, changed by `change`.
async fn spawn_configured(
    url: DbUrl,
    db: TestDb,
    change: impl FnOnce(&mut Config),
) -> TestApp<
    impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
> {
    let mut config = test_config(url);
    change(&mut config);
    let state = zhijia::build_state(config).expect("build state");
    let svc = test::init_service(zhijia::app(state.clone())).await;
    TestApp {
        svc,
        state,
        cookies: HashMap::new(),
        session_may_end: false,
        _db: db,
    }
}

/// A fresh app on the base union of `builders` (units, the fixed accounts with their roles):
/// what most tests start from, adding what they need with the builders.
pub async fn spawn_base() -> TestApp<
    impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
> {
    let (url, db) = base_db();
    spawn_on(url, db).await
}

/// A fresh copy of the base union's database (for a test that builds its own state).
pub fn base_db() -> (DbUrl, TestDb) {
    static BASE: std::sync::OnceLock<Template> = std::sync::OnceLock::new();
    copy_of(BASE.get_or_init(|| {
        make_template(|state| {
            let mut conn = state.pool.get().expect("connection");
            let now = state.config.clock.now();
            zhijia::db::write_tx(&mut conn, |conn| {
                crate::builders::seed_base(conn, now);
                Ok(())
            })
            .expect("seed the base union");
        })
    }))
}

/// A fresh app seeded with `zhijia demo`: only for the tests about the demo itself (and the
/// browser tour, which starts the binary on its own copy). Seeded once per test process.
pub async fn spawn_demo() -> TestApp<
    impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
> {
    let (url, db) = demo_db();
    spawn_on(url, db).await
}

/// A seeded database that tests copy: a SQLite file, or a PostgreSQL template database (its
/// name starts with `zhijia_t_`, so the next run's sweep drops it). Seeding takes seconds on
/// two cores, a copy milliseconds.
enum Template {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

fn make_template(seed: impl FnOnce(&zhijia::state::AppState)) -> Template {
    let (url, db) = fresh_db();
    {
        let state = zhijia::build_state(test_config(url)).expect("build template state");
        seed(&state);
        // Dropping the state closes every connection: SQLite checkpoints its WAL into the
        // file, and PostgreSQL may then copy the database as a template.
    }
    let t = match &db {
        TestDb::Sqlite(dir) => Template::Sqlite(dir.0.join("test.db")),
        TestDb::Postgres { name, .. } => Template::Postgres(name.clone()),
    };
    // Kept for the whole process (a static is never dropped).
    std::mem::forget(db);
    t
}

/// A fresh copy of a template database for one test.
fn copy_of(template: &Template) -> (DbUrl, TestDb) {
    match template {
        Template::Sqlite(template) => {
            let dir = tempfile_dir::TempDir::new();
            let path = dir.0.join("test.db");
            std::fs::copy(template, &path).expect("copy the template");
            (DbUrl::Sqlite(path), TestDb::Sqlite(dir))
        }
        Template::Postgres(template) => {
            let base = pg_base_url().expect("PostgreSQL template without a URL");
            let admin_url = with_db_name(&base, "postgres");
            let mut admin =
                diesel::PgConnection::establish(&admin_url).expect("connect to PostgreSQL");
            let name = format!("zhijia_t_{}", zhijia::auth::random_token(8).to_lowercase());
            admin
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .expect("copy the template database");
            (
                DbUrl::Postgres(with_db_name(&base, &name)),
                TestDb::Postgres { admin_url, name },
            )
        }
    }
}

/// A fresh copy of the demo database for one test.
pub fn demo_db() -> (DbUrl, TestDb) {
    static DEMO: std::sync::OnceLock<Template> = std::sync::OnceLock::new();
    copy_of(DEMO.get_or_init(|| {
        make_template(|state| zhijia::demo::seed(state).expect("seed demo template"))
    }))
}

impl<S, B> TestApp<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// The browser's cookies as one `Cookie` header value.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn send(&mut self, req: TestRequest) -> Resp {
        let mut req = req;
        if !self.cookies.is_empty() {
            req = req.insert_header(("cookie", self.cookie_header()));
        }
        let res = test::call_service(&self.svc, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        for v in headers.get_all("set-cookie") {
            let s = v.to_str().unwrap();
            let c = actix_web::cookie::Cookie::parse(s.to_string()).unwrap();
            let removed = c.max_age().is_some_and(|a| a.is_zero() || a.is_negative());
            if removed || c.value().is_empty() {
                self.cookies.remove(c.name());
            } else {
                self.cookies
                    .insert(c.name().to_string(), c.value().to_string());
            }
        }
        let bytes = test::read_body(res).await;
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        // Browsers percent-encode non-ASCII in URLs; do the same.
        let mut uri = String::new();
        for c in path.chars() {
            if c.is_ascii() {
                uri.push(c);
            } else {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    uri.push_str(&format!("%{b:02X}"));
                }
            }
        }
        self.send(TestRequest::get().uri(&uri)).await
    }

    /// POST a form as is (no token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(
            TestRequest::post()
                .uri(path)
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(body),
        )
        .await
    }

    /// The CSRF token this browser's forms carry (read from a page, as a browser would).
    pub async fn csrf(&mut self) -> String {
        if self.cookies.contains_key("zj_session") {
            for page in ["/me", "/me/password"] {
                let r = self.get(page).await;
                if r.status == StatusCode::OK {
                    return r.csrf();
                }
            }
            // The session is gone (expired or revoked): the browser is anonymous again.
            assert!(
                self.session_may_end,
                "the session ended before this post; log in again, or set app.session_may_end"
            );
            self.cookies.remove("zj_session");
        }
        self.get("/login").await.csrf()
    }

    /// POST a form with this browser's CSRF token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// POST multipart/form-data with this browser's CSRF token: text fields and (name, bytes) files,
    /// all sent in the input named "files".
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &[u8])],
    ) -> Resp {
        let named: Vec<(&str, &str, &[u8])> =
            files.iter().map(|(n, d)| ("files", *n, *d)).collect();
        self.post_multipart_named(path, fields, &named).await
    }

    /// Like `post_multipart`, with (input name, file name, bytes) per file.
    pub async fn post_multipart_named(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Resp {
        let token = self.csrf().await;
        let boundary = "----zhijia-test-boundary-7MA4YWxkTrZu0gW";
        let mut body: Vec<u8> = Vec::new();
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        for (k, v) in all {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        for (input, name, data) in files {
            // As browsers do (HTML spec, multipart/form-data encoding).
            let name = name
                .replace('"', "%22")
                .replace('\r', "%0D")
                .replace('\n', "%0A");
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{input}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.send(
            TestRequest::post()
                .uri(path)
                .insert_header((
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                ))
                .set_payload(body),
        )
        .await
    }

    /// Log in (any earlier session may have ended: logging in again is what a person does).
    pub async fn login(&mut self, username: &str, password: &str) -> Resp {
        let may_end = std::mem::replace(&mut self.session_may_end, true);
        let r = self
            .post("/login", &[("username", username), ("password", password)])
            .await;
        self.session_may_end = may_end;
        r
    }

    /// Log in and assert it worked.
    pub async fn login_ok(&mut self, username: &str) {
        let r = self.login(username, "zhijia-demo").await;
        assert_eq!(
            r.status.as_u16(),
            303,
            "login of {username} failed: {}",
            r.body
        );
    }

    pub async fn logout(&mut self) {
        self.post("/logout", &[]).await.assert_status(303);
    }

    pub fn conn(&self) -> zhijia::db::PooledConn {
        self.state.pool.get().unwrap()
    }

    /// Run a builder on this app's database at the app's "now":
    /// `app.with(benefit_catalogue)`, `app.with(|c, now| benefit_request(c, now, …))`.
    pub fn with<T>(
        &self,
        build: impl FnOnce(&mut zhijia::db::DbConnection, chrono::NaiveDateTime) -> T,
    ) -> T {
        let mut conn = self.conn();
        let now = self.state.config.clock.now();
        build(&mut conn, now)
    }

    pub fn member_id(&self, employee_no: &str) -> i32 {
        zhijia::members::model::find_by_employee_no(&mut self.conn(), employee_no)
            .unwrap()
            .unwrap_or_else(|| panic!("no member {employee_no}"))
            .id
    }

    /// The forecast job's training round, as an instance's background job runs it (no request
    /// trains); the backtest line of the model it stored.
    pub fn train_forecast(&self) -> String {
        self.with(|conn, now| zhijia::forecast::service::train_round(conn, "test-job", now, 60))
            .unwrap()
            .expect("the job trains when there is no model")
    }

    pub fn count(&self, sql_table: &str) -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let r: N = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {sql_table}"))
            .get_result(&mut self.conn())
            .unwrap();
        r.n
    }

    /// Statements run since the last call.
    pub fn take_queries(&self) -> usize {
        self.state
            .config
            .query_counter
            .as_ref()
            .map_or(0, |c| c.swap(0, std::sync::atomic::Ordering::SeqCst))
    }

    pub fn audit_count(&self, action: &str) -> i64 {
        use diesel::prelude::*;
        use zhijia::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::action.eq(action))
            .count()
            .get_result(&mut self.conn())
            .unwrap()
    }
}

/// A member logged in outside the cookie jar: (member id, session cookie value, CSRF token).
pub struct Session {
    pub member_id: i32,
    pub cookie: String,
    pub csrf: String,
}

impl<S, B> TestApp<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// Create `n` members in the unit named `unit` with live sessions (for concurrency tests).
    pub fn members_with_sessions(&self, unit: &str, prefix: &str, n: usize) -> Vec<Session> {
        let mut conn = self.conn();
        let unit_id = zhijia::org::model::find_by_name(&mut conn, unit).unwrap()[0].id;
        let now = self.state.config.clock.now();
        zhijia::db::write_tx(&mut conn, |conn| {
            let mut out = Vec::new();
            for i in 0..n {
                let no = format!("{prefix}{i:05}");
                let name = format!("测试{i}");
                let id = zhijia::members::model::insert(
                    conn,
                    &zhijia::members::model::NewMember {
                        employee_no: &no,
                        phone: None,
                        name: &name,
                        unit_id,
                        password_hash: None,
                        must_change_password: false,
                        is_admin: false,
                        disabled: false,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                let token = zhijia::auth::session::create(conn, id, false, now, None, None)?;
                let csrf = zhijia::auth::csrf::token_for_session(
                    &self.state.config.secret_key,
                    &zhijia::auth::hash_token(&token),
                );
                out.push(Session {
                    member_id: id,
                    cookie: token,
                    csrf,
                });
            }
            Ok(out)
        })
        .unwrap()
    }

    /// A new session for a member (after the clock moved past the idle timeout).
    pub fn renew(&self, s: &Session) -> Session {
        let mut conn = self.conn();
        let now = self.state.config.clock.now();
        let token =
            zhijia::auth::session::create(&mut conn, s.member_id, false, now, None, None).unwrap();
        let csrf = zhijia::auth::csrf::token_for_session(
            &self.state.config.secret_key,
            &zhijia::auth::hash_token(&token),
        );
        Session {
            member_id: s.member_id,
            cookie: token,
            csrf,
        }
    }

    /// GET as one of those sessions, with an optional Referer; returns the status.
    pub async fn get_as(&self, s: &Session, path: &str, referer: Option<&str>) -> u16 {
        let mut req = TestRequest::get()
            .uri(path)
            .insert_header(("cookie", format!("zj_session={}", s.cookie)))
            .insert_header((
                "user-agent",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile",
            ));
        if let Some(r) = referer {
            req = req.insert_header(("referer", format!("http://localhost{r}")));
        }
        test::call_service(&self.svc, req.to_request())
            .await
            .status()
            .as_u16()
    }

    /// GET as one of those sessions; returns the status and the page.
    pub async fn page_as(&self, s: &Session, path: &str) -> (u16, String) {
        let req = TestRequest::get()
            .uri(path)
            .insert_header(("cookie", format!("zj_session={}", s.cookie)))
            .to_request();
        let res = test::call_service(&self.svc, req).await;
        let status = res.status().as_u16();
        let body = test::read_body(res).await;
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// POST a multipart form (text fields only) as one of those sessions; returns the status.
    pub async fn post_multipart_as(&self, s: &Session, path: &str, fields: &[(&str, &str)]) -> u16 {
        let boundary = "zhijiaTestBoundary7";
        let mut body = String::new();
        for (k, v) in std::iter::once(("csrf_token", s.csrf.as_str())).chain(fields.iter().copied())
        {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let req = TestRequest::post()
            .uri(path)
            .insert_header((
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            ))
            .insert_header(("cookie", format!("zj_session={}", s.cookie)))
            .set_payload(body)
            .to_request();
        test::call_service(&self.svc, req).await.status().as_u16()
    }

    /// POST a form as one of those sessions (no cookie jar); returns the status.
    pub async fn post_as(&self, s: &Session, path: &str, fields: &[(&str, &str)]) -> u16 {
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", s.csrf.as_str())];
        all.extend_from_slice(fields);
        let body = serde_urlencoded::to_string(&all).unwrap();
        let req = TestRequest::post()
            .uri(path)
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .insert_header(("cookie", format!("zj_session={}", s.cookie)))
            .set_payload(body)
            .to_request();
        let res = test::call_service(&self.svc, req).await;
        res.status().as_u16()
    }
}

/// A small deterministic random generator for tests (the same numbers on every machine, and the
/// seed printed so a failure can be replayed).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
    /// Uniform in 0..n (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
