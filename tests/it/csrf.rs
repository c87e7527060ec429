//! Every POST checks the CSRF token and the request's origin; a refused request changes nothing.

use actix_web::test::TestRequest;

use crate::helpers::*;

#[actix_web::test]
async fn a_post_without_a_token_is_refused_and_changes_nothing() {
    let mut app = spawn_demo().await;
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
    let mut app = spawn_demo().await;
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
    let mut app = spawn_demo().await;
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
    let mut app = spawn_demo().await;
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
    let mut app = spawn_demo().await;
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
                .set_payload(body),
        )
        .await;
    r.assert_status(403);
    app.get("/me").await.assert_status(200);
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
