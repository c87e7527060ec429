//! Every POST checks the CSRF token and the request's origin; a refused request changes nothing.

use actix_web::test::TestRequest;

use crate::helpers::*;

#[actix_web::test]
async fn a_post_without_a_token_is_refused_and_changes_nothing() {
    let mut app = spawn_base().await;
    app.login_ok("demo-admin").await;
    let before = app.count("members");
    let r = app
        .post_raw(
            "/admin/members",
            &[
                ("employee_no", "X1001"),
                ("name", "新会员"),
                ("unit_id", "1"),
            ],
        )
        .await;
    r.assert_status(403).assert_contains("请求已过期");
    assert_eq!(app.count("members"), before);
}

#[actix_web::test]
async fn a_post_with_a_wrong_token_is_refused_and_changes_nothing() {
    let mut app = spawn_base().await;
    app.login_ok("demo-admin").await;
    let before = app.count("members");
    let r = app
        .post_raw(
            "/admin/members",
            &[
                ("csrf_token", "0000"),
                ("employee_no", "X1001"),
                ("name", "新会员"),
                ("unit_id", "1"),
            ],
        )
        .await;
    r.assert_status(403);
    assert_eq!(app.count("members"), before);
}

#[actix_web::test]
async fn a_token_from_another_session_is_refused() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member-b").await;
    let foreign = app.csrf().await;
    app.logout().await;
    app.login_ok("demo-member").await;
    let r = app.post_raw("/logout", &[("csrf_token", &foreign)]).await;
    r.assert_status(403);
    app.get("/me").await.assert_status(200);
}

#[actix_web::test]
async fn login_without_a_token_is_refused() {
    let mut app = spawn_base().await;
    let r = app
        .post_raw(
            "/login",
            &[("username", "demo-member"), ("password", "zhijia-demo")],
        )
        .await;
    r.assert_status(403);
    assert!(!app.cookies.contains_key("zj_session"));
}

#[actix_web::test]
async fn a_cross_site_post_is_refused_even_with_a_valid_token() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let token = app.csrf().await;
    let body = format!("csrf_token={token}");
    let r = app
        .send(
            TestRequest::post()
                .uri("/logout")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .insert_header(("sec-fetch-site", "cross-site"))
                .set_payload(body.clone()),
        )
        .await;
    r.assert_status(403);
    let r = app
        .send(
            TestRequest::post()
                .uri("/logout")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .insert_header(("origin", "https://evil.example"))
                .set_payload(body.clone()),
        )
        .await;
    r.assert_status(403);
    let r = app
        .send(
            TestRequest::post()
                .uri("/logout")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .insert_header(("origin", "null"))
                .set_payload(body.clone()),
        )
        .await;
    r.assert_status(403);
    app.get("/me").await.assert_status(200);
    // The page's own origin passes (the same post, from this site): the member is logged out.
    let r = app
        .send(
            TestRequest::post()
                .uri("/logout")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .insert_header(("origin", "http://localhost:8080"))
                .insert_header(("sec-fetch-site", "same-origin"))
                .set_payload(body),
        )
        .await;
    r.assert_status(303);
    app.session_may_end = true;
    app.get("/me").await.assert_status(303);
}

/// Before login each browser has its own token: one browser's token does not work for another
/// (a fixed pre-login token would let any site log a victim into the attacker's account).
#[actix_web::test]
async fn pre_login_tokens_belong_to_one_browser() {
    let mut a = spawn_base().await;
    let token_a = a.get("/login").await.csrf();
    let pre_a = a.cookies.clone();
    a.cookies.clear();
    let token_b = a.get("/login").await.csrf();
    assert_ne!(token_a, token_b);
    // Browser B posts the login form with A's token: refused.
    a.post_raw(
        "/login",
        &[
            ("csrf_token", token_a.as_str()),
            ("username", "demo-member"),
            ("password", "zhijia-demo"),
        ],
    )
    .await
    .assert_status(403);
    // Browser A with its own token gets in.
    a.cookies = pre_a;
    a.post_raw(
        "/login",
        &[
            ("csrf_token", token_a.as_str()),
            ("username", "demo-member"),
            ("password", "zhijia-demo"),
        ],
    )
    .await
    .assert_status(303);
}

#[test]
fn every_post_form_in_the_templates_carries_the_csrf_macro() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "html") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/templates")),
        &mut files,
    );
    let mut forms = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, _) in text.match_indices("<form") {
            let tag_end = text[i..].find('>').unwrap() + i;
            if !text[i..tag_end].contains("method=\"post\"") {
                continue;
            }
            forms += 1;
            let close = text[i..].find("</form>").unwrap() + i;
            assert!(
                // Inside macros.html the macro is called without the `m::` prefix.
                text[i..close].contains("m::csrf(ctx)")
                    || (f.ends_with("macros.html") && text[i..close].contains("call csrf(ctx)")),
                "a POST form in {} lacks the csrf macro",
                f.display()
            );
        }
    }
    assert!(forms >= 10, "expected many POST forms, found {forms}");
}

/// The upload forms (multipart) check the token too: none and a wrong one are refused, and no
/// case, post, request or file is stored.
#[actix_web::test]
async fn upload_forms_without_the_right_token_are_refused_and_store_nothing() {
    let mut app = spawn_base().await;
    app.login_ok("demo-admin").await;
    let news = app.with(|c, now| {
        benefit_catalogue(c, now);
        article(c, now, "第一工程公司工会", "通知", "正文", true)
    });
    app.logout().await;
    app.login_ok("demo-member").await;
    let item = zhijia::benefits::model::items(&mut app.conn())
        .unwrap()
        .into_iter()
        .find(|i| i.name == "健身卡补贴")
        .unwrap()
        .id;
    let cookie = app.cookie_header();
    let tables = [
        "grievances",
        "showcase_posts",
        "benefit_requests",
        "attachments",
        "images",
    ];
    let before: Vec<i64> = tables.iter().map(|t| app.count(t)).collect();
    let boundary = "csrfTestBoundary";
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/grievances/new".into(),
            vec![
                ("category", "pay"),
                ("title", "无令牌"),
                ("description", "d"),
                ("desired_outcome", "o"),
                ("submit_token", "tok-0123456789abcdef"),
            ],
        ),
        (
            "/showcase/new".into(),
            vec![("title", "无令牌"), ("story", "故事"), ("category", "其他")],
        ),
        (
            format!("/benefits/apply/{item}"),
            vec![
                ("amount", "300"),
                ("field_0", "体育馆"),
                ("submit_token", "tok-0123456789abcdef"),
            ],
        ),
    ];
    let mut passes = vec![(cookie, forms)];
    app.logout().await;
    app.login_ok("demo-admin").await;
    passes.push((
        app.cookie_header(),
        vec![(format!("/admin/news/{news}/files"), vec![])],
    ));
    for (cookie, forms) in &passes {
        for (path, fields) in forms {
            for token in [None, Some("wrong-token")] {
                let mut body = String::new();
                let all = fields
                    .iter()
                    .copied()
                    .chain(token.map(|t| ("csrf_token", t)));
                for (k, v) in all {
                    body.push_str(&format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                ));
                }
                body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
            ));
                let mut bytes = body.into_bytes();
                bytes.extend_from_slice(crate::grievances::PNG);
                bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
                let r = app
                    .send(
                        TestRequest::post()
                            .uri(path)
                            .insert_header(("cookie", cookie.clone()))
                            .insert_header((
                                "content-type",
                                format!("multipart/form-data; boundary={boundary}"),
                            ))
                            .set_payload(bytes),
                    )
                    .await;
                r.assert_status(403).assert_contains("请求已过期");
            }
        }
    }
    app.logout().await;
    app.login_ok("demo-member").await;
    let after: Vec<i64> = tables.iter().map(|t| app.count(t)).collect();
    assert_eq!(before, after, "{tables:?}");
    // With the token the same session's upload goes through (the refusals were the token's).
    let token = zhijia::auth::random_token(16);
    app.post_multipart(
        "/grievances/new",
        &[
            ("category", "pay"),
            ("title", "有令牌"),
            ("description", "d"),
            ("desired_outcome", "o"),
            ("submit_token", &token),
        ],
        &[("a.png", crate::grievances::PNG)],
    )
    .await
    .assert_status(303);
}
