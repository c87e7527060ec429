//! Cross-cutting guarantees: migrations, headers, assets, health, setup, the audit log.

use crate::helpers::*;

#[test]
fn the_migration_directories_of_both_backends_match() {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
    let list = |b: &str| {
        let mut v: Vec<String> = std::fs::read_dir(root.join(b))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let (s, p) = (list("sqlite"), list("postgres"));
    assert!(!s.is_empty());
    assert_eq!(s, p);
    for d in &s {
        for f in ["up.sql", "down.sql"] {
            assert!(
                root.join("sqlite").join(d).join(f).exists(),
                "sqlite/{d}/{f}"
            );
            assert!(
                root.join("postgres").join(d).join(f).exists(),
                "postgres/{d}/{f}"
            );
        }
    }
}

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let mut app = spawn_base().await;
    for path in ["/login", "/healthz", "/no-such-page"] {
        let r = app.get(path).await;
        let csp = r.header("content-security-policy");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.header("x-content-type-options"), "nosniff");
        assert_eq!(r.header("referrer-policy"), "same-origin");
    }
    app.login_ok("demo-member").await;
    let r = app.get("/").await;
    assert_eq!(r.header("cache-control"), "no-store");
    let cookie_flags = {
        let r = app.login("demo-member", "zhijia-demo").await;
        r.header("set-cookie").to_string()
    };
    assert!(
        cookie_flags.contains("HttpOnly") && cookie_flags.contains("SameSite=Lax"),
        "{cookie_flags}"
    );
}

#[actix_web::test]
async fn static_files_are_served_under_hashed_names_with_long_caching() {
    let mut app = spawn_base().await;
    let page = app.get("/login").await;
    let start = page.body.find("/static/app.").unwrap();
    let end = page.body[start..].find('"').unwrap() + start;
    let url = page.body[start..end].to_string();
    assert!(url.ends_with(".css") && url.len() > "/static/app.css".len());
    let css = app.get(&url).await;
    css.assert_status(200).assert_contains(".tabbar");
    assert!(css.header("cache-control").contains("immutable"));
    assert!(css.header("content-type").starts_with("text/css"));
    app.get("/static/nope.css").await.assert_status(404);
}

#[actix_web::test]
async fn errors_render_inside_the_layout_without_internal_detail() {
    let mut app = spawn_base().await;
    let r = app.get("/definitely/not/here").await;
    r.assert_status(404)
        .assert_contains("页面不存在")
        .assert_contains("职工之家");
    assert!(r.header("content-type").starts_with("text/html"));
}

#[actix_web::test]
async fn healthz_answers_ok_when_the_database_answers() {
    let mut app = spawn().await;
    let r = app.get("/healthz").await;
    r.assert_status(200);
    assert_eq!(r.body, "ok");
}

/// Uptime monitors and load balancers probe with HEAD: on the pages they probe it answers like
/// GET, without a body; elsewhere (some GETs spend something: a one-time file, an OAuth code)
/// it is 405.
#[actix_web::test]
async fn head_answers_like_get_without_a_body() {
    let mut app = spawn_base().await;
    for path in ["/healthz", "/login", "/join"] {
        let r = app
            .send(
                actix_web::test::TestRequest::default()
                    .method(actix_web::http::Method::HEAD)
                    .uri(path),
            )
            .await;
        r.assert_status(200);
        assert!(r.body.is_empty(), "HEAD {path} sent a body");
    }
    let r = app
        .send(
            actix_web::test::TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri("/me"),
        )
        .await;
    r.assert_status(405);
    assert_eq!(r.header("allow"), "GET, POST");
    let r = app
        .send(
            actix_web::test::TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri("/no-such-page"),
        )
        .await;
    r.assert_status(405);
    assert!(r.body.is_empty());
    app.login_ok("demo-member").await;
    let r = app
        .send(
            actix_web::test::TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri("/"),
        )
        .await;
    r.assert_status(200);
    assert!(r.body.is_empty());
    assert!(r.header("content-type").starts_with("text/html"));
}

/// `/metrics` does not exist without a token; with one it wants the bearer token, and its
/// request counter moves by exactly the requests made.
#[actix_web::test]
async fn metrics_need_their_token_and_count_the_requests_made() {
    let mut off = spawn().await;
    off.get("/metrics").await.assert_status(404);
    let mut app = spawn_base_with(|c| {
        c.metrics_token = Some(zhijia::config::Secret("scrape-token-0123456789".into()));
    })
    .await;
    app.get("/metrics").await.assert_status(401);
    let wrong = actix_web::test::TestRequest::get()
        .uri("/metrics")
        .insert_header(("authorization", "Bearer scrape-token-012345678"));
    app.send(wrong).await.assert_status(401);
    let scrape = || {
        actix_web::test::TestRequest::get()
            .uri("/metrics")
            .insert_header(("authorization", "Bearer scrape-token-0123456789"))
    };
    let count = |body: &str| -> u64 {
        body.lines()
            .find(|l| {
                l.starts_with(
                    "zhijia_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}",
                )
            })
            .map_or(0, |l| l.rsplit(' ').next().unwrap().parse().unwrap())
    };
    let first = app.send(scrape()).await;
    first.assert_status(200);
    assert!(first
        .header("content-type")
        .starts_with("text/plain; version=0.0.4"));
    let before = count(&first.body);
    for _ in 0..3 {
        app.get("/healthz").await.assert_status(200);
    }
    let second = app.send(scrape()).await;
    assert_eq!(count(&second.body), before + 3, "{}", second.body);
    for needle in [
        "zhijia_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"}",
        "zhijia_db_pool_wait_seconds_count",
        "zhijia_db_pool_connections{state=\"open\"}",
        "zhijia_outbox_queue{state=\"unplanned\"} 0",
        "zhijia_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"401\"} 2",
    ] {
        assert!(
            second.body.contains(needle),
            "{needle} missing:\n{}",
            second.body
        );
    }
    assert_eq!(app.state.metrics.requests_of("/healthz"), before + 3);
    // An odd method name is "other", never a new label; a letter to the chair (it may be
    // anonymous) is not counted at all.
    let odd = actix_web::test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(b"FROBNICATE").unwrap())
        .uri("/healthz");
    app.send(odd).await;
    let third = app.send(scrape()).await;
    assert!(!third.body.contains("FROBNICATE"));
    assert!(third.body.contains("method=\"other\""));
    app.post_raw("/mailbox", &[("subject", "x")]).await;
    assert_eq!(app.state.metrics.requests_of("/mailbox"), 0);
}

#[actix_web::test]
async fn the_setup_token_works_exactly_once() {
    let mut app = spawn().await;
    let now = app.state.config.clock.now();
    let token = zhijia::auth::service::ensure_setup_token(&mut app.conn(), now)
        .unwrap()
        .unwrap();
    app.get("/setup?token=wrong").await.assert_status(404);
    let page = app.get(&format!("/setup?token={token}")).await;
    page.assert_status(200).assert_contains("创建第一个管理员");
    // Invalid input re-renders with 422 and keeps the token usable.
    app.post(
        "/setup",
        &[
            ("token", &token),
            ("union_name", "某某集团工会"),
            ("employee_no", "it001"),
            ("name", "信息中心"),
            ("password", "short"),
            ("confirm", "short"),
        ],
    )
    .await
    .assert_status(422)
    .assert_contains("密码至少 10 位");
    let fields = [
        ("token", token.as_str()),
        ("union_name", "某某集团工会"),
        ("employee_no", "it001"),
        ("name", "信息中心"),
        ("password", "Admin-pass-2026"),
        ("confirm", "Admin-pass-2026"),
    ];
    let r = app.post("/setup", &fields).await;
    r.assert_status(303);
    assert_eq!(r.location(), "/login");
    app.post("/setup", &fields).await.assert_status(404);
    app.get(&format!("/setup?token={token}"))
        .await
        .assert_status(404);
    assert_eq!(
        zhijia::auth::service::ensure_setup_token(&mut app.conn(), now).unwrap(),
        None
    );
    app.login("it001", "Admin-pass-2026")
        .await
        .assert_status(303);
    app.get("/admin/org")
        .await
        .assert_status(200)
        .assert_contains("某某集团工会");
    assert_eq!(app.audit_count("setup.admin"), 1);
}

#[actix_web::test]
async fn state_changes_are_audited_and_the_audit_log_is_append_only() {
    let mut app = spawn_base().await;
    app.login("demo-member", "bad-password").await;
    app.login_ok("demo-member").await;
    app.logout().await;
    assert_eq!(app.audit_count("login.failed"), 1);
    assert_eq!(app.audit_count("login.success"), 1);
    assert_eq!(app.audit_count("logout"), 1);
    use diesel::connection::SimpleConnection;
    assert!(app
        .conn()
        .batch_execute("UPDATE audit_log SET detail = 'x'")
        .is_err());
    assert!(app.conn().batch_execute("DELETE FROM audit_log").is_err());
    // Admins read it on the audit page, filtered.
    app.login_ok("demo-admin").await;
    let r = app.get("/admin/audit?action=login.failed").await;
    r.assert_status(200).assert_contains("登录失败");
    assert!(!r.body.contains("退出登录</td>"));
    // A cadre sees only their own scope's rows.
    app.logout().await;
    app.login_ok("demo-cadre-b").await;
    let r = app.get("/admin/audit").await;
    r.assert_status(200);
    assert!(
        !r.body.contains("王小明"),
        "a cadre of B saw A's audit rows"
    );
}

/// With `--secure-cookies` (behind HTTPS) every cookie is Secure — session, CSRF anchor, flash
/// and removals — and HSTS is sent; without it, neither.
#[actix_web::test]
async fn secure_cookies_mark_every_cookie_secure_and_send_hsts() {
    use actix_web::test::{call_service, init_service, TestRequest};
    let (url, _db) = base_db();
    let mut config = test_config(url);
    config.secure_cookies = true;
    let state = zhijia::build_state(config).unwrap();
    let svc = init_service(zhijia::app(state.clone())).await;
    let res = call_service(&svc, TestRequest::get().uri("/login").to_request()).await;
    assert!(res.headers().contains_key("strict-transport-security"));
    let set: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(!set.is_empty(), "the login page sets the CSRF anchor");
    let pre = set
        .iter()
        .find(|c| c.starts_with("zj_pre"))
        .expect("anchor cookie");
    assert!(pre.contains("Secure"), "{pre}");
    let body = String::from_utf8(actix_web::test::read_body(res).await.to_vec()).unwrap();
    let token = regex_lite::Regex::new(r#"name="csrf_token" value="([^"]+)""#)
        .unwrap()
        .captures(&body)
        .unwrap()[1]
        .to_string();
    let pre_value = pre.split(';').next().unwrap().to_string();
    let login = TestRequest::post()
        .uri("/login")
        .insert_header(("cookie", pre_value.clone()))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(
            serde_urlencoded::to_string([
                ("csrf_token", token.as_str()),
                ("username", "demo-member"),
                ("password", "wrong-password-x"),
            ])
            .unwrap(),
        )
        .to_request();
    assert_eq!(call_service(&svc, login).await.status().as_u16(), 422);
    let login = TestRequest::post()
        .uri("/login")
        .insert_header(("cookie", pre_value))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(
            serde_urlencoded::to_string([
                ("csrf_token", token.as_str()),
                ("username", "demo-member"),
                ("password", "zhijia-demo"),
            ])
            .unwrap(),
        )
        .to_request();
    let res = call_service(&svc, login).await;
    assert_eq!(res.status().as_u16(), 303);
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("zj_session="))
        .expect("session cookie");
    assert!(session.contains("Secure"), "{session}");
    // A flash (after a redirect with a message) is Secure too.
    let svc2 = init_service(zhijia::app(state.clone()).route(
        "/test/flash",
        actix_web::web::get().to(move || {
            let f = zhijia::web::redirect_flash("/", "ok", "好");
            async move { f }
        }),
    ))
    .await;
    let res = call_service(&svc2, TestRequest::get().uri("/test/flash").to_request()).await;
    let all: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(!all.is_empty());
    assert!(all.iter().all(|c| c.contains("Secure")), "{all:?}");

    // Without the flag: no HSTS, no Secure.
    let mut app = spawn().await;
    let r = app.get("/login").await;
    assert!(!r.headers.contains_key("strict-transport-security"));
    assert!(r
        .headers
        .get_all("set-cookie")
        .all(|v| !v.to_str().unwrap().contains("Secure")));
}

#[actix_web::test]
async fn read_all_marks_every_notification_of_the_member_and_no_one_elses() {
    let mut app = spawn_base().await;
    let me = app.member_id("demo-member");
    let other = app.member_id("demo-member-b");
    let now = app.state.config.clock.now();
    for (who, title) in [(me, "通知一"), (me, "通知二"), (other, "别人的通知")] {
        zhijia::notifications::notify(
            &mut app.conn(),
            who,
            title,
            "/",
            now,
            zhijia::outbox::Out::Never,
        )
        .unwrap();
    }
    let unread = |app_conn: &mut zhijia::db::PooledConn, m: i32| -> i64 {
        use diesel::prelude::*;
        use zhijia::db::schema::notifications as n;
        n::table
            .filter(n::member_id.eq(m))
            .filter(n::read.eq(false))
            .count()
            .get_result(app_conn)
            .unwrap()
    };
    assert!(unread(&mut app.conn(), me) >= 2);
    let others_before = unread(&mut app.conn(), other);
    app.login_ok("demo-member").await;
    app.get("/notifications")
        .await
        .assert_status(200)
        .assert_contains("通知二");
    let r = app.post("/notifications/read-all", &[]).await;
    r.assert_status(303);
    assert_eq!(unread(&mut app.conn(), me), 0);
    assert_eq!(unread(&mut app.conn(), other), others_before);
}

/// 长辈版: switched on in 我的, it stays on for the account (every page, a new login) until
/// switched off.
#[actix_web::test]
async fn large_text_mode_is_remembered_per_account_on_every_page() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let body_class = |html: &str| -> String {
        regex_lite::Regex::new(r#"<body class="([^"]*)""#)
            .unwrap()
            .captures(html)
            .map(|c| c[1].to_string())
            .unwrap_or_default()
    };
    let me = app.get("/me").await;
    me.assert_status(200).assert_contains("开启长辈版");
    assert!(!body_class(&me.body).contains("large"));
    let r = app.post("/me/large-text", &[("on", "1")]).await;
    r.assert_status(303);
    app.get(r.location()).await.assert_contains("已开启长辈版");
    for page in ["/", "/news", "/activities", "/me"] {
        let p = app.get(page).await;
        p.assert_status(200);
        assert!(body_class(&p.body).contains("large"), "{page}");
    }
    app.logout().await;
    app.login_ok("demo-member").await;
    assert!(
        body_class(&app.get("/").await.body).contains("large"),
        "kept after a new login"
    );
    // Another member is not affected.
    app.logout().await;
    app.login_ok("demo-member-b").await;
    assert!(!body_class(&app.get("/").await.body).contains("large"));
    app.logout().await;
    app.login_ok("demo-member").await;
    app.post("/me/large-text", &[("on", "0")])
        .await
        .assert_status(303);
    assert!(!body_class(&app.get("/").await.body).contains("large"));
}

/// A job lease: one holder at a time; the holder renews; another takes it only once it lapsed.
#[actix_web::test]
async fn a_job_lease_has_one_holder_until_it_lapses() {
    use zhijia::workflow::lease::try_acquire;
    let app = spawn().await;
    let mut conn = app.conn();
    let t0 = app.state.config.clock.now();
    let ttl = chrono::Duration::seconds(55);
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    assert!(
        try_acquire(&mut conn, "job", "a", at(0), ttl).unwrap(),
        "first taker"
    );
    assert!(
        !try_acquire(&mut conn, "job", "b", at(10), ttl).unwrap(),
        "held by a"
    );
    assert!(
        try_acquire(&mut conn, "job", "a", at(50), ttl).unwrap(),
        "a renews"
    );
    // Renewed at 50 s for 55 s: still a's at 100 s, b's after 105 s.
    assert!(!try_acquire(&mut conn, "job", "b", at(100), ttl).unwrap());
    assert!(
        try_acquire(&mut conn, "job", "b", at(106), ttl).unwrap(),
        "lapsed: b takes it"
    );
    assert!(
        !try_acquire(&mut conn, "job", "a", at(107), ttl).unwrap(),
        "now b's"
    );
    // Another lease name is independent.
    assert!(try_acquire(&mut conn, "other", "a", at(107), ttl).unwrap());
}

/// Two instances (two pools on one database), four threads each, start together at a free
/// lease, then at a lapsed one, round after round: each round exactly one of them gets it and
/// no statement fails (racing INSERTs used to hit the primary key: "duplicate key value
/// violates unique constraint job_leases_pkey" on PostgreSQL).
#[actix_web::test]
async fn racing_instances_take_a_lease_once_per_round_without_errors() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Barrier, Mutex};
    use zhijia::workflow::lease::{release_all, try_acquire};
    let app = spawn().await;
    let second = zhijia::build_state(test_config(app.state.config.database.clone())).unwrap();
    let pools = [app.state.pool.clone(), second.pool.clone()];
    let ttl = chrono::Duration::seconds(55);
    let t0 = app.state.config.clock.now();
    for round in 0..16i64 {
        // Even rounds: a lease nobody has held; odd rounds: the last one, lapsed a minute on.
        let name = format!("job-{}", round / 2);
        let at = t0 + chrono::Duration::seconds(round * 60);
        let winners = AtomicUsize::new(0);
        let errors = Mutex::new(Vec::new());
        let start = Barrier::new(8);
        std::thread::scope(|s| {
            for (p, pool) in pools.iter().enumerate() {
                for t in 0..4 {
                    let (name, winners, errors, start) = (&name, &winners, &errors, &start);
                    s.spawn(move || {
                        let mut conn = pool.get().unwrap();
                        start.wait();
                        match try_acquire(&mut conn, name, &format!("i{p}-t{t}"), at, ttl) {
                            Ok(true) => {
                                winners.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(false) => {}
                            Err(e) => errors.lock().unwrap().push(e.to_string()),
                        }
                    });
                }
            }
        });
        assert_eq!(
            errors.into_inner().unwrap(),
            Vec::<String>::new(),
            "round {round}"
        );
        assert_eq!(
            winners.load(Ordering::SeqCst),
            1,
            "round {round}: one taker"
        );
    }
    // One run per tick: the second claim of a tick is refused, the next tick is free.
    use zhijia::workflow::lease::{claim_run, tick_start};
    let tick = tick_start(t0, 60);
    assert!(claim_run(&mut app.conn(), "deadlines", tick, "i0").unwrap());
    assert!(
        !claim_run(&mut app.conn(), "deadlines", tick, "i1").unwrap(),
        "tick already run"
    );
    let next = tick + chrono::Duration::seconds(60);
    assert!(claim_run(&mut app.conn(), "deadlines", next, "i1").unwrap());
    assert!(claim_run(&mut app.conn(), "other-job", tick, "i1").unwrap());
    // A stopping instance gives its leases up: the next taker need not wait for the lapse.
    let mut conn = app.conn();
    assert!(try_acquire(&mut conn, "handover", "old", t0, ttl).unwrap());
    assert!(!try_acquire(&mut conn, "handover", "new", t0, ttl).unwrap());
    assert_eq!(release_all(&mut conn, "old").unwrap(), 1);
    assert!(try_acquire(&mut conn, "handover", "new", t0, ttl).unwrap());
}

/// 谁看过我的信息: a cadre's look at the member's record and named case, and an export that
/// named them, are listed for the member; the view of their anonymous case is not.
#[actix_web::test]
async fn a_member_sees_who_looked_at_or_exported_their_data_and_never_their_anonymous_case() {
    let mut app = spawn_base().await;
    let me = app.member_id("demo-member");
    app.login_ok("demo-member").await;
    app.get("/me/privacy")
        .await
        .assert_status(200)
        .assert_contains("还没有人查看或导出过您的信息");
    let mut refs = Vec::new();
    for (title, anonymous) in [("实名：加班调休", false), ("匿名：班组长态度", true)]
    {
        let token = zhijia::auth::random_token(16);
        let mut f = vec![
            ("submit_token", token.as_str()),
            ("category", "hours"),
            ("title", title),
            ("description", "说明"),
            ("desired_outcome", "结果"),
        ];
        if anonymous {
            f.extend([("anonymous", "1"), ("unit_id", "1")]);
        }
        app.post_multipart("/grievances/new", &f, &[]).await;
        let r: String = {
            use diesel::prelude::*;
            use zhijia::db::schema::grievances as g;
            g::table
                .filter(g::title.eq(title))
                .select(g::public_ref)
                .first(&mut app.conn())
                .unwrap()
        };
        refs.push(r);
    }
    let walk = app.with(|c, now| {
        let walk = activity(
            c,
            now,
            "机关分会",
            "午间健步走",
            30,
            chrono::Duration::days(3),
        );
        sign_up(c, now, "demo-member", walk);
        walk
    });
    app.logout().await;
    app.login_ok("demo-admin").await;
    app.get(&format!("/admin/grievances/{}", refs[0]))
        .await
        .assert_status(200);
    app.get(&format!("/admin/grievances/{}", refs[1]))
        .await
        .assert_status(200);
    app.get(&format!("/admin/members/{me}"))
        .await
        .assert_status(200);
    let x = app
        .get(&format!("/admin/activities/{walk}/attendance.xlsx"))
        .await;
    x.assert_status(200);
    app.logout().await;
    app.login_ok("demo-member").await;
    let page = app.get("/me/privacy").await;
    page.assert_status(200)
        .assert_contains("系统管理员")
        .assert_contains("查看会员资料")
        .assert_contains("导出签到表");
    assert_eq!(
        page.body.matches("查看申诉").count(),
        1,
        "the named case only"
    );
    assert!(!page.body.contains(&refs[1]));
    // Another member's page shows none of it.
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.get("/me/privacy")
        .await
        .assert_ok_without("查看会员资料");
}

/// 我的数据: the ZIP read back holds every table with a member column, each with exactly this
/// member's rows, nothing of anyone else, no anonymous case, no internal note; audited.
#[actix_web::test]
async fn a_member_downloads_a_copy_of_all_their_data_and_nothing_else() {
    use std::io::Read;
    let mut app = spawn_base().await;
    // Rows in every exported table, for this member and for another.
    app.with(|c, now| {
        benefit_catalogue(c, now);
        member_footprint(c, now, "demo-member");
        member_footprint(c, now, "demo-member-b");
    });
    let me = app.member_id("demo-member");
    app.login_ok("demo-member").await;
    for (title, anonymous) in [("实名：食堂排队太久", false), ("匿名：不想让人知道", true)]
    {
        let token = zhijia::auth::random_token(16);
        let mut f = vec![
            ("submit_token", token.as_str()),
            ("category", "other"),
            ("title", title),
            ("description", "说明"),
            ("desired_outcome", "结果"),
        ];
        if anonymous {
            f.extend([("anonymous", "1"), ("unit_id", "1")]);
        }
        app.post_multipart(
            "/grievances/new",
            &f,
            &[("单据.png", crate::grievances::PNG)],
        )
        .await;
    }
    let (named, anon): (String, String) = {
        use diesel::prelude::*;
        use zhijia::db::schema::grievances as g;
        let r = |t: &str| {
            g::table
                .filter(g::title.eq(t))
                .select(g::public_ref)
                .first::<String>(&mut app.conn())
                .unwrap()
        };
        (r("实名：食堂排队太久"), r("匿名：不想让人知道"))
    };
    app.logout().await;
    app.login_ok("demo-cadre").await;
    let v = |app_conn: &mut zhijia::db::PooledConn| {
        zhijia::grievances::model::find_by_ref(app_conn, &named)
            .unwrap()
            .unwrap()
            .version
            .to_string()
    };
    let ver = v(&mut app.conn());
    app.post(
        &format!("/admin/grievances/{named}/act"),
        &[
            ("action", "note"),
            ("version", &ver),
            ("text", "内部备注：此人爱投诉"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    // Visits to the home page and the news are engagement events (written as the 2-second job
    // would).
    app.get("/").await.assert_status(200);
    app.get("/news").await.assert_status(200);
    app.state.events.flush(&mut app.conn()).unwrap();
    let r = app.get("/me/data").await;
    r.assert_status(200);
    assert_eq!(r.header("content-type"), "application/zip");
    assert_eq!(app.audit_count("member.data_export"), 1);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.bytes.clone())).unwrap();
    let mut read = |name: &str| -> String {
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s.trim_start_matches('\u{feff}').to_string()
    };
    let index = read("index.html");
    assert!(index.contains("我的数据"));
    let others: Vec<String> = {
        use diesel::prelude::*;
        use zhijia::db::schema::members as m;
        m::table
            .filter(m::id.ne(me))
            .filter(m::employee_no.like("demo-%"))
            .select(m::employee_no)
            .load(&mut app.conn())
            .unwrap()
    };
    // Tables this member has rows in (the rest are in the ZIP too, empty).
    let touched = [
        "members",
        "activity_signups",
        "grievances",
        "grievance_events",
        "notifications",
        "engagement_events",
    ];
    for (file, t) in zhijia::members::mydata::parts() {
        let (table, cond) = (t.name, t.mine.unwrap());
        let text = read(&format!("data/{file}"));
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
        let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        // Exactly the member's rows of the table.
        let key = zhijia::engagement::member_key(&app.state.config.secret_key, me);
        let cond = cond.replace('?', &me.to_string()).replace("%K", &key);
        assert_eq!(
            rows.len() as i64,
            app.count(&format!("{table} WHERE {cond}")),
            "{file}"
        );
        assert!(
            !touched.contains(&table) || !rows.is_empty(),
            "{file}: the member has rows there, none exported"
        );
        if let Some(col) = header.iter().position(|h| h == "member_id") {
            assert!(rows.iter().all(|r| r[col] == me.to_string()), "{file}");
        }
        for other in &others {
            // (A cadre's name may appear as the author of a reply; their employee number not.)
            assert!(!text.contains(other.as_str()), "{file} names {other}");
        }
        assert!(!text.contains(&anon), "{file} holds the anonymous case");
        assert!(
            !text.contains("不想让人知道"),
            "{file} holds the anonymous case"
        );
        assert!(
            !text.contains("内部备注"),
            "{file} holds a cadre's internal note"
        );
        assert!(!text.contains("password_hash") && !text.contains("$argon2"));
    }
    let profile = read("data/members.csv");
    assert!(profile.contains("demo-member") && profile.contains("王小明"));
    let cases = read("data/grievances.csv");
    assert!(cases.contains(&named));
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("files/attachments/")),
        "the named case's attachment: {names:?}"
    );
}
