//! Login, throttling, sessions, password change.

use crate::helpers::*;

#[actix_web::test]
async fn login_with_employee_number_succeeds_and_rotates_the_session_id() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let first = app.cookies["zj_session"].clone();
    app.get("/")
        .await
        .assert_status(200)
        .assert_contains("王小明");
    app.logout().await;
    app.login_ok("demo-member").await;
    let second = app.cookies["zj_session"].clone();
    assert_ne!(first, second, "each login must issue a new session id");
    // A session id planted in the browser before login is replaced, not adopted.
    app.cookies.insert("zj_session".into(), "PLANTED".into());
    app.login_ok("demo-member").await;
    assert_ne!(app.cookies["zj_session"], "PLANTED");
}

#[actix_web::test]
async fn login_with_mobile_phone_works_including_fullwidth_digits() {
    let mut app = spawn_base().await;
    app.login("13800000001", "zhijia-demo")
        .await
        .assert_status(303);
    app.logout().await;
    app.login("１３８０００００００１", "zhijia-demo")
        .await
        .assert_status(303);
}

#[actix_web::test]
async fn wrong_password_and_unknown_user_look_identical() {
    let mut app = spawn_base().await;
    let wrong = app.login("demo-member", "not-the-password").await;
    let unknown = app.login("nobody-here", "not-the-password").await;
    assert_eq!(wrong.status.as_u16(), 422);
    assert_eq!(unknown.status.as_u16(), 422);
    wrong.assert_contains("账号或密码错误");
    unknown.assert_contains("账号或密码错误");
    // Same page apart from the echoed user name.
    assert_eq!(
        wrong.body.replace("demo-member", "X"),
        unknown.body.replace("nobody-here", "X")
    );
    assert!(!app.cookies.contains_key("zj_session"));
    assert_eq!(app.audit_count("login.failed"), 2);
}

#[actix_web::test]
async fn empty_login_form_rerenders_with_422() {
    let mut app = spawn_base().await;
    app.login("", "")
        .await
        .assert_status(422)
        .assert_contains("请输入工号");
}

#[actix_web::test]
async fn repeated_failures_throttle_that_account_only_and_wear_off() {
    let mut app = spawn_base().await;
    for _ in 0..5 {
        app.login("demo-member", "wrong-password")
            .await
            .assert_status(422);
    }
    // Even the right password waits now.
    let r = app.login("demo-member", "zhijia-demo").await;
    r.assert_status(429).assert_contains("登录失败次数过多");
    // Another account behind the same address is not affected (no per-IP lockout).
    app.login_ok("demo-member-b").await;
    app.logout().await;
    // After the delay the right password works and clears the counter.
    app.state.config.clock.advance(31);
    app.login_ok("demo-member").await;
    app.logout().await;
    app.login("demo-member", "wrong-password")
        .await
        .assert_status(422);
    app.login_ok("demo-member").await;
}

/// A counter forgets its failures 24 hours after the last one, not a minute earlier.
#[actix_web::test]
async fn failure_counts_expire_24_hours_after_the_last_failure_and_not_before() {
    let mut app = spawn_base().await;
    for _ in 0..5 {
        app.login("ghost-24h", "x-wrong-x").await.assert_status(422);
    }
    app.login("ghost-24h", "x-wrong-x")
        .await
        .assert_status(429)
        .assert_contains("登录失败次数过多");
    // A minute short of 24 hours on: the wait is long over, but the count still stands
    // (5 → 6), so the attempt right after this one waits again. (The test clock ticks with
    // real time too, so the exact 24-hour instant cannot be hit.)
    app.state.config.clock.advance(24 * 3600 - 60);
    app.login("ghost-24h", "x-wrong-x").await.assert_status(422);
    app.login("ghost-24h", "x-wrong-x").await.assert_status(429);
    // A second later than 24 hours after the last failure, the count starts from zero: a few
    // more mistakes in a row are checked again without waiting.
    app.state.config.clock.advance(24 * 3600 + 1);
    for _ in 0..4 {
        app.login("ghost-24h", "x-wrong-x").await.assert_status(422);
    }
}

#[actix_web::test]
async fn unknown_accounts_are_throttled_like_real_ones() {
    let mut app = spawn_base().await;
    for _ in 0..5 {
        app.login("ghost", "x-wrong-x").await.assert_status(422);
    }
    app.login("ghost", "x-wrong-x").await.assert_status(429);
}

#[actix_web::test]
async fn the_cookie_from_before_logout_is_rejected_after_it() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let old = app.cookies["zj_session"].clone();
    app.logout().await;
    assert!(!app.cookies.contains_key("zj_session"));
    app.cookies.insert("zj_session".into(), old);
    let r = app.get("/me").await;
    r.assert_status(303);
    assert!(r.location().starts_with("/login"));
}

#[actix_web::test]
async fn member_sessions_expire_after_30_idle_minutes() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    app.state.config.clock.advance(29 * 60);
    app.get("/me").await.assert_status(200);
    // Activity renews the idle window.
    app.state.config.clock.advance(29 * 60);
    app.get("/me").await.assert_status(200);
    app.state.config.clock.advance(31 * 60);
    let r = app.get("/me").await;
    r.assert_status(303);
    assert!(r.location().starts_with("/login?next=/me"));
}

#[actix_web::test]
async fn cadre_sessions_expire_after_15_idle_minutes() {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre").await;
    app.state.config.clock.advance(14 * 60);
    app.get("/admin").await.assert_status(200);
    app.state.config.clock.advance(16 * 60);
    app.get("/admin").await.assert_status(303);
}

#[actix_web::test]
async fn sessions_end_at_the_absolute_limit_even_when_active() {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre").await;
    // Active every 10 minutes for 8 hours.
    for _ in 0..47 {
        app.state.config.clock.advance(10 * 60);
        app.get("/admin").await.assert_status(200);
    }
    app.state.config.clock.advance(11 * 60);
    app.get("/admin").await.assert_status(303);
}

#[actix_web::test]
async fn disabling_an_account_revokes_its_sessions_at_once() {
    let mut member = spawn_base().await;
    member.login_ok("demo-member").await;
    let id = member.member_id("demo-member");
    // The cadre disables the member through the admin page, sharing the same database.
    let session = member.cookies.clone();
    member.cookies.clear();
    member.login_ok("demo-cadre").await;
    member
        .post(&format!("/admin/members/{id}/disable"), &[])
        .await
        .assert_status(303);
    member.cookies = session;
    member.get("/me").await.assert_status(303);
    member
        .login("demo-member", "zhijia-demo")
        .await
        .assert_status(422);
}

#[actix_web::test]
async fn change_password_needs_the_current_one_and_logs_out_other_devices() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let other_device = app.cookies.clone();
    app.cookies.clear();
    app.login_ok("demo-member").await;
    let r = app
        .post(
            "/me/password",
            &[
                ("current", "wrong-one"),
                ("new_password", "Better-pass-2026"),
                ("confirm", "Better-pass-2026"),
            ],
        )
        .await;
    r.assert_status(422).assert_contains("当前密码不正确");
    let r = app
        .post(
            "/me/password",
            &[
                ("current", "zhijia-demo"),
                ("new_password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    r.assert_status(422).assert_contains("密码至少 10 位");
    // Long enough but guessable: refused by its zxcvbn score, with the reason in Chinese.
    for weak in ["password123", "qwertyuiop", "1234567890"] {
        app.post(
            "/me/password",
            &[
                ("current", "zhijia-demo"),
                ("new_password", weak),
                ("confirm", weak),
            ],
        )
        .await
        .assert_status(422)
        .assert_contains("密码强度不够");
    }
    let r = app
        .post(
            "/me/password",
            &[
                ("current", "zhijia-demo"),
                ("new_password", "Better-pass-2026"),
                ("confirm", "Better-pass-2026"),
            ],
        )
        .await;
    r.assert_status(303);
    app.get("/me")
        .await
        .assert_status(200)
        .assert_contains("密码已修改");
    app.cookies = other_device;
    app.get("/me").await.assert_status(303);
    app.cookies.clear();
    app.login("demo-member", "zhijia-demo")
        .await
        .assert_status(422);
    app.login("demo-member", "Better-pass-2026")
        .await
        .assert_status(303);
    assert_eq!(app.audit_count("password.change"), 1);
}

#[actix_web::test]
async fn a_reset_account_must_change_its_password_before_anything_else() {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre").await;
    let id = app.member_id("demo-member");
    let r = app
        .post(&format!("/admin/members/{id}/reset-password"), &[])
        .await;
    r.assert_status(200).assert_contains("初始密码");
    let marker = "<p class=\"secret\">";
    let start = r.body.find(marker).unwrap() + marker.len();
    let password = r.body[start..start + r.body[start..].find('<').unwrap()].to_string();
    app.logout().await;
    app.login("demo-member", &password).await.assert_status(303);
    let r = app.get("/").await;
    r.assert_status(303);
    assert_eq!(r.location(), "/me/password");
    app.get("/me/password")
        .await
        .assert_status(200)
        .assert_contains("请先设置新密码");
    app.post(
        "/me/password",
        &[
            ("current", &password),
            ("new_password", "Fresh-start-99"),
            ("confirm", "Fresh-start-99"),
        ],
    )
    .await
    .assert_status(303);
    app.get("/").await.assert_status(200);
}

#[test]
fn production_hash_cost_meets_the_owasp_minimum() {
    let cost = zhijia::config::HashCost::PRODUCTION;
    let hash = zhijia::auth::password::hash_blocking(cost, "some password").unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(zhijia::auth::password::verify_blocking(
        &hash,
        "some password"
    ));
    assert!(!zhijia::auth::password::verify_blocking(
        &hash,
        "other password"
    ));
}

#[test]
fn throttle_delay_grows_and_is_capped() {
    use zhijia::auth::service::delay_after;
    assert_eq!(delay_after(4).num_seconds(), 0);
    assert_eq!(delay_after(5).num_seconds(), 30);
    assert_eq!(delay_after(6).num_seconds(), 60);
    assert_eq!(delay_after(50).num_seconds(), 15 * 60);
}

/// 30 wrong passwords for one account sent at the same instant, by employee number and by
/// phone mixed: the attempt is reserved before hashing, so at most 5 passwords are checked.
#[actix_web::test]
async fn thirty_parallel_wrong_passwords_check_at_most_five_whichever_identifier_is_typed() {
    use actix_web::test::{call_service, TestRequest};
    let mut app = spawn_base().await;
    let phone: String = {
        use diesel::prelude::*;
        use zhijia::db::schema::members as m;
        m::table
            .filter(m::employee_no.eq("demo-member"))
            .select(m::phone)
            .first::<Option<String>>(&mut app.conn())
            .unwrap()
            .expect("demo-member has a phone")
    };
    let token = app.csrf().await;
    let cookie = app.cookie_header();
    let before = app.audit_count("login.failed");
    let reqs = (0..30).map(|i| {
        let user = if i % 2 == 0 {
            "demo-member"
        } else {
            phone.as_str()
        };
        let body = serde_urlencoded::to_string([
            ("csrf_token", token.as_str()),
            ("username", user),
            ("password", "wrong-password-x"),
        ])
        .unwrap();
        let req = TestRequest::post()
            .uri("/login")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .insert_header(("cookie", cookie.clone()))
            .set_payload(body)
            .to_request();
        call_service(&app.svc, req)
    });
    let statuses: Vec<u16> = futures_util::future::join_all(reqs)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 422).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + throttled, 30, "{statuses:?}");
    assert!(
        (1..=5).contains(&checked),
        "checked {checked}: {statuses:?}"
    );
    assert_eq!(app.audit_count("login.failed") - before, checked as i64);
    // The right password waits too, by either identifier.
    app.login(&phone, "zhijia-demo").await.assert_status(429);
    app.login("demo-member", "zhijia-demo")
        .await
        .assert_status(429);
}

/// Password spraying from one address across many accounts is limited per client address; the
/// address comes from X-Forwarded-For only when the peer is a trusted proxy.
#[actix_web::test]
async fn one_address_trying_many_accounts_is_throttled_and_a_forged_forwarded_for_does_not_help() {
    use actix_web::test::{call_service, TestRequest};
    let mut app = spawn_base().await;
    let token = app.csrf().await;
    let cookie = app.cookie_header();
    let attempt = |user: String, forged: String| {
        let body = serde_urlencoded::to_string([
            ("csrf_token", token.as_str()),
            ("username", user.as_str()),
            ("password", "Spring2026!x"),
        ])
        .unwrap();
        TestRequest::post()
            .uri("/login")
            .peer_addr("203.0.113.7:40000".parse().unwrap())
            .insert_header(("x-forwarded-for", forged))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .insert_header(("cookie", cookie.clone()))
            .set_payload(body)
            .to_request()
    };
    let free = zhijia::auth::service::ADDRESS_FREE_FAILURES;
    let mut statuses = Vec::new();
    for i in 0..free + 3 {
        // A different account each time, and a different forged client address each time.
        let r = call_service(
            &app.svc,
            attempt(format!("spray{i}"), format!("10.9.8.{i}")),
        )
        .await;
        statuses.push(r.status().as_u16());
    }
    let n = usize::try_from(free).unwrap();
    assert!(statuses[..n].iter().all(|s| *s == 422), "{statuses:?}");
    assert!(statuses[n..].iter().all(|s| *s == 429), "{statuses:?}");
    // Another address is not affected.
    let other = TestRequest::post()
        .uri("/login")
        .peer_addr("203.0.113.8:40000".parse().unwrap())
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("cookie", cookie.clone()))
        .set_payload(
            serde_urlencoded::to_string([
                ("csrf_token", token.as_str()),
                ("username", "demo-member"),
                ("password", "zhijia-demo"),
            ])
            .unwrap(),
        )
        .to_request();
    assert_eq!(call_service(&app.svc, other).await.status().as_u16(), 303);
}

#[test]
fn the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy() {
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
    use zhijia::web::client_addr;
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let mut h = HeaderMap::new();
    h.insert(
        HeaderName::from_static("x-forwarded-for"),
        HeaderValue::from_static("1.1.1.1, 10.0.0.9, 10.0.0.5"),
    );
    let trusted = [ip("10.0.0.5"), ip("10.0.0.9")];
    // Untrusted peer: the header is ignored.
    assert_eq!(
        client_addr(Some(ip("8.8.8.8")), &h, &trusted),
        Some(ip("8.8.8.8"))
    );
    // Trusted peer: the right-most untrusted hop.
    assert_eq!(
        client_addr(Some(ip("10.0.0.5")), &h, &trusted),
        Some(ip("1.1.1.1"))
    );
    // No trusted proxies configured: always the peer.
    assert_eq!(
        client_addr(Some(ip("10.0.0.5")), &h, &[]),
        Some(ip("10.0.0.5"))
    );
    // A malformed header behind a trusted proxy: the peer.
    h.insert(
        HeaderName::from_static("x-forwarded-for"),
        HeaderValue::from_static("1.1.1.1, not-an-ip"),
    );
    assert_eq!(
        client_addr(Some(ip("10.0.0.5")), &h, &trusted),
        Some(ip("10.0.0.5"))
    );
}

#[test]
fn next_accepts_only_local_paths() {
    use zhijia::web::safe_next;
    let local = [
        ("/", "/"),
        ("/news", "/news"),
        ("/news/3?x=1#y", "/news/3?x=1#y"),
        ("/a/b//c", "/a/b//c"),
        ("/\t/x", "/"),
    ];
    for (input, want) in local {
        assert_eq!(safe_next(Some(input)), want, "{input:?}");
    }
    let refused = [
        "",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\r\n/evil.example",
        "/\n\\evil.example",
        "\t//evil.example",
        "https://evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        " /x",
        "%2F%2Fevil.example",
        "/x\\y",
        "/x\u{0}y",
        "/x\u{1b}y",
        "data:text/html,x",
        "//",
        "/\\",
    ];
    for input in refused {
        assert_eq!(safe_next(Some(input)), "/", "{input:?}");
    }
    assert_eq!(safe_next(None), "/");
}
