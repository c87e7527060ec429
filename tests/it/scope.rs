//! Role scope: members never reach the admin area; a cadre's reach is their unit's subtree.

use crate::helpers::*;

const ADMIN_PAGES: &[&str] = &[
    "/admin",
    "/admin/members",
    "/admin/members/new",
    "/admin/org",
    "/admin/audit",
];

#[actix_web::test]
async fn a_member_reaches_no_admin_page() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    for p in ADMIN_PAGES {
        let r = app.get(p).await;
        assert_eq!(r.status.as_u16(), 403, "{p}");
        assert!(r.body.contains("无权访问"));
    }
    let other = app.member_id("demo-member-b");
    app.get(&format!("/admin/members/{other}"))
        .await
        .assert_status(403);
    let before = app.count("members");
    app.post(
        "/admin/members",
        &[("employee_no", "Z9"), ("name", "某某"), ("unit_id", "1")],
    )
    .await
    .assert_status(403);
    assert_eq!(app.count("members"), before);
    // The member's pages show no link to the admin area.
    app.get("/").await.assert_ok_without("管理后台");
}

#[actix_web::test]
async fn an_anonymous_visitor_is_sent_to_login() {
    let mut app = spawn_base().await;
    for p in ["/", "/me", "/admin", "/admin/members"] {
        let r = app.get(p).await;
        r.assert_status(303);
        assert!(
            r.location().starts_with("/login?next="),
            "{p} → {}",
            r.location()
        );
    }
}

#[actix_web::test]
async fn a_cadre_of_branch_a_can_neither_see_nor_edit_members_of_sibling_branch_b() {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre").await;
    let list = app.get("/admin/members?q=demo").await;
    list.assert_status(200).assert_contains("demo-member<");
    assert!(
        !list.body.contains("demo-member-b"),
        "B's member listed to A's cadre"
    );
    let b = app.member_id("demo-member-b");
    app.get(&format!("/admin/members/{b}"))
        .await
        .assert_status(404);
    let r = app
        .post(
            &format!("/admin/members/{b}"),
            &[
                ("employee_no", "demo-member-b"),
                ("name", "改名"),
                ("phone", ""),
                ("unit_id", "1"),
            ],
        )
        .await;
    r.assert_status(404);
    for action in ["disable", "reset-password"] {
        app.post(&format!("/admin/members/{b}/{action}"), &[])
            .await
            .assert_status(404);
    }
    let m = zhijia::members::model::find(&mut app.conn(), b)
        .unwrap()
        .unwrap();
    assert_eq!(m.name, "李晓红");
    assert!(!m.disabled);
    // Nor move their own member into B.
    let a = app.member_id("demo-member");
    let branch_b = m.unit_id.to_string();
    app.post(
        &format!("/admin/members/{a}"),
        &[
            ("employee_no", "demo-member"),
            ("name", "王小明"),
            ("phone", ""),
            ("unit_id", &branch_b),
        ],
    )
    .await
    .assert_status(422)
    .assert_contains("请选择您管理范围内的单位");
}

#[actix_web::test]
async fn the_chair_above_both_branches_sees_both() {
    let mut app = spawn_base().await;
    app.login_ok("demo-chair").await;
    let list = app.get("/admin/members?q=demo-member").await;
    list.assert_contains("demo-member<")
        .assert_contains("demo-member-b");
    let b = app.member_id("demo-member-b");
    app.get(&format!("/admin/members/{b}"))
        .await
        .assert_status(200);
}

#[actix_web::test]
async fn only_chairs_and_admins_grant_roles_and_nobody_grants_their_own() {
    let mut app = spawn_base().await;
    let member = app.member_id("demo-member");
    let unit = zhijia::members::model::find(&mut app.conn(), member)
        .unwrap()
        .unwrap()
        .unit_id
        .to_string();
    app.login_ok("demo-cadre").await;
    app.post(
        &format!("/admin/members/{member}/roles"),
        &[("unit_id", &unit), ("role", "cadre")],
    )
    .await
    .assert_status(303);
    let before = app.audit_count("role.grant");
    assert_eq!(before, 0, "a cadre must not grant roles");
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.post(
        &format!("/admin/members/{member}/roles"),
        &[("unit_id", &unit), ("role", "cadre")],
    )
    .await
    .assert_status(303);
    assert_eq!(app.audit_count("role.grant"), 1);
    let chair = app.member_id("demo-chair");
    app.post(
        &format!("/admin/members/{chair}/roles"),
        &[("unit_id", &unit), ("role", "cadre")],
    )
    .await
    .assert_status(303);
    assert_eq!(
        app.audit_count("role.grant"),
        1,
        "a chair changed their own roles"
    );
}

/// Two ids in a path, two conditions in the query: a child reached through another parent is
/// refused and nothing changes (each case with its positive counterpart).
#[actix_web::test]
async fn a_child_id_reached_through_another_parent_is_refused() {
    use diesel::prelude::*;
    use zhijia::db::schema::{activity_signups as s, attachments as att, images as im};
    let mut app = spawn_base().await;
    app.with(|c, now| {
        showcase_post(c, now, "demo-member", "书法习作", true);
        showcase_post(c, now, "demo-member-b", "阳台花园", true);
    });
    let unit = |app_conn: &mut zhijia::db::PooledConn, n: &str| {
        zhijia::org::model::find_by_name(app_conn, n).unwrap()[0].id
    };
    let (a, b) = (
        unit(&mut app.conn(), "机关分会"),
        unit(&mut app.conn(), "项目一部分会"),
    );
    let when = |m: i64| {
        zhijia::time::format_input(&(app.state.config.clock.now() + chrono::Duration::minutes(m)))
    };
    let (start, end) = (when(30), when(150));
    macro_rules! create {
        ($who:expr, $unit:expr) => {{
            app.cookies.clear();
            app.login_ok($who).await;
            let r = app
                .post(
                    "/admin/activities/new",
                    &[
                        ("title", "跨活动签到"),
                        ("kind", "文体活动"),
                        ("place", "礼堂"),
                        ("starts_at", &start),
                        ("ends_at", &end),
                        ("capacity", "10"),
                        ("audience", &$unit.to_string()),
                    ],
                )
                .await;
            r.assert_status(303);
            r.location()
                .trim_start_matches("/admin/activities/")
                .parse::<i32>()
                .unwrap()
        }};
    }
    let act_a = create!("demo-cadre", a);
    let act_b = create!("demo-cadre-b", b);
    app.cookies.clear();
    app.login_ok("demo-member").await;
    app.post(&format!("/activities/{act_a}/signup"), &[])
        .await
        .assert_status(303);
    let signup_a: i32 = s::table
        .filter(s::activity_id.eq(act_a))
        .select(s::id)
        .first(&mut app.conn())
        .unwrap();
    // Branch B's cadre, through B's activity, cannot check in A's sign-up.
    app.cookies.clear();
    app.login_ok("demo-cadre-b").await;
    let before = app.audit_count("activity.checkin");
    let r = app
        .post(
            &format!("/admin/activities/{act_b}/checkin/{signup_a}"),
            &[],
        )
        .await;
    r.assert_status(303);
    assert_eq!(r.location(), format!("/admin/activities/{act_b}"));
    app.get(&format!("/admin/activities/{act_b}"))
        .await
        .assert_status(200)
        .assert_contains("该报名不是");
    let checked: Option<chrono::NaiveDateTime> = s::table
        .find(signup_a)
        .select(s::checked_in_at)
        .first(&mut app.conn())
        .unwrap();
    assert!(checked.is_none(), "checked in through another activity");
    assert_eq!(app.audit_count("activity.checkin"), before);
    // A's cadre, through A's activity, can.
    app.cookies.clear();
    app.login_ok("demo-cadre").await;
    app.post(
        &format!("/admin/activities/{act_a}/checkin/{signup_a}"),
        &[],
    )
    .await
    .assert_status(303);
    app.get(&format!("/admin/activities/{act_a}"))
        .await
        .assert_contains("已签到");
    assert_eq!(app.audit_count("activity.checkin"), before + 1);

    // Showcase photos: a photo of post P1 asked for under post P2 is not found.
    let owners: Vec<(i32, i32)> = im::table
        .filter(im::owner_type.eq("showcase"))
        .select((im::owner_id, im::id))
        .order(im::id.asc())
        .load(&mut app.conn())
        .unwrap();
    let (p1, img1) = owners[0];
    let (p2, _) = *owners.iter().find(|(p, _)| *p != p1).unwrap();
    app.cookies.clear();
    app.login_ok("demo-admin").await;
    for suffix in ["", "/thumb"] {
        app.get(&format!("/showcase/{p1}/photos/{img1}{suffix}"))
            .await
            .assert_status(200);
        app.get(&format!("/showcase/{p2}/photos/{img1}{suffix}"))
            .await
            .assert_status(404);
    }
    // Benefit attachments, on the staff side: as the chair, on requests in the chair's subtree
    // (material is shown only to those who may see a request's details).
    let chair_path = {
        let chair = app.member_id("demo-chair");
        let u = zhijia::auth::user::load_user(&mut app.conn(), chair, "")
            .unwrap()
            .unwrap();
        u.roles
            .iter()
            .find(|g| g.role == zhijia::org::Role::Chair)
            .unwrap()
            .unit_path
            .clone()
    };
    app.with(|c, now| {
        benefit_catalogue(c, now);
        // The first is sensitive (住院慰问: health details), so its download is audited.
        for (who, item) in [("demo-member", "住院慰问"), ("demo-member-b", "退休慰问")] {
            let req = benefit_request(c, now, who, item, "100", false);
            attachment(c, now, ("benefit", req));
        }
    });
    let files: Vec<(i32, i32)> = {
        use zhijia::db::schema::{benefit_requests as br, org_units as ou};
        att::table
            .inner_join(br::table.on(br::id.eq(att::owner_id)))
            .inner_join(ou::table.on(ou::id.eq(br::unit_id)))
            .filter(att::owner_type.eq("benefit"))
            .filter(ou::path.like(format!("{chair_path}%")))
            .select((att::owner_id, att::id))
            .order(att::id.asc())
            .load(&mut app.conn())
            .unwrap()
    };
    let (r1, f1) = files[0];
    let (r2, _) = *files.iter().find(|(r, _)| *r != r1).unwrap();
    app.cookies.clear();
    app.login_ok("demo-chair").await;
    let viewed = app.audit_count("benefit.view_details");
    app.get(&format!("/admin/benefits/{r1}/attachments/{f1}"))
        .await
        .assert_status(200);
    app.get(&format!("/admin/benefits/{r2}/attachments/{f1}"))
        .await
        .assert_status(404);
    assert_eq!(
        app.audit_count("benefit.view_details"),
        viewed + 1,
        "a download of sensitive material is audited"
    );
    app.cookies.clear();
    app.login_ok("demo-admin").await;
    // The system administrator is not in any approval chain: no material.
    app.get(&format!("/admin/benefits/{r1}/attachments/{f1}"))
        .await
        .assert_status(404);

    // A role revoked through another member's path is not found, and stays.
    let cadre = app.member_id("demo-cadre");
    let member = app.member_id("demo-member");
    let role_id: i32 = {
        use zhijia::db::schema::roles as r;
        r::table
            .filter(r::member_id.eq(cadre))
            .select(r::id)
            .first(&mut app.conn())
            .unwrap()
    };
    let roles_before = app.count("roles");
    app.post(
        &format!("/admin/members/{member}/roles/{role_id}/delete"),
        &[],
    )
    .await
    .assert_status(404);
    assert_eq!(app.count("roles"), roles_before);
    app.post(
        &format!("/admin/members/{cadre}/roles/{role_id}/delete"),
        &[],
    )
    .await
    .assert_status(303);
    assert_eq!(app.count("roles"), roles_before - 1);
}

/// Content for several units belongs to their lowest common ancestor: a chair's survey,
/// activity and notice for branches A and B are not A's cadre's to export or edit; the chair's.
#[actix_web::test]
async fn items_for_two_branches_belong_to_their_common_ancestor() {
    let mut app = spawn_base().await;
    let unit = |app_conn: &mut zhijia::db::PooledConn, n: &str| {
        zhijia::org::model::find_by_name(app_conn, n).unwrap()[0].id
    };
    let (a, b) = (
        unit(&mut app.conn(), "机关分会").to_string(),
        unit(&mut app.conn(), "项目一部分会").to_string(),
    );
    let later = |d: i64| {
        zhijia::time::format_input(&(app.state.config.clock.now() + chrono::Duration::days(d)))
    };
    let (close, start, end) = (later(7), later(10), later(11));
    let cat = zhijia::news::model::categories(&mut app.conn()).unwrap()[0]
        .id
        .to_string();
    app.login_ok("demo-chair").await;
    let survey = app
        .post(
            "/admin/surveys/new",
            &[
                ("title", "两个分会的问卷"),
                ("source", "[单选] 好吗\n好\n不好"),
                ("closes_at", &close),
                ("results_visibility", "after_answer"),
                ("audience", &a),
                ("audience", &b),
            ],
        )
        .await;
    survey.assert_status(303);
    let survey = survey.location().to_string();
    let activity = app
        .post(
            "/admin/activities/new",
            &[
                ("title", "两个分会的活动"),
                ("kind", "文体活动"),
                ("place", "礼堂"),
                ("starts_at", &start),
                ("ends_at", &end),
                ("capacity", "10"),
                ("audience", &a),
                ("audience", &b),
            ],
        )
        .await;
    activity.assert_status(303);
    let activity = activity.location().to_string();
    let notice = app
        .post(
            "/admin/news/new",
            &[
                ("title", "两个分会的通知"),
                ("category_id", &cat),
                ("body", "正文"),
                ("audience", &a),
                ("audience", &b),
                ("mandatory", "1"),
                ("action", "save"),
            ],
        )
        .await;
    notice.assert_status(303);
    let notice = notice.location().to_string();
    // The chair reaches all three.
    for p in [
        format!("{survey}/results.xlsx"),
        format!("{activity}/edit"),
        format!("{notice}/unread.xlsx"),
        notice.clone(),
    ] {
        app.get(&p).await.assert_status(200);
    }
    app.logout().await;
    // A's cadre reaches none of them, and cannot save over the activity.
    app.login_ok("demo-cadre").await;
    for p in [
        format!("{survey}/results.xlsx"),
        survey.clone(),
        format!("{activity}/edit"),
        activity.clone(),
        format!("{notice}/unread.xlsx"),
        format!("{notice}/reads"),
        notice.clone(),
    ] {
        app.get(&p).await.assert_status(404);
    }
    app.post(
        &format!("{activity}/edit"),
        &[
            ("title", "改了"),
            ("kind", "文体活动"),
            ("place", "礼堂"),
            ("starts_at", &start),
            ("ends_at", &end),
            ("capacity", "10"),
            ("audience", &a),
        ],
    )
    .await
    .assert_status(404);
    // A's members still see them.
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get("/surveys").await.assert_contains("两个分会的问卷");
}

#[actix_web::test]
async fn files_reached_through_another_parent_are_refused() {
    use diesel::prelude::*;
    use zhijia::db::schema::{attachments as att, images as im};
    let mut app = spawn_base().await;
    let root = zhijia::org::model::find(&mut app.conn(), 1)
        .unwrap()
        .unwrap()
        .id;
    // News: two articles for everyone, a cover and a file on the first.
    app.login_ok("demo-admin").await;
    let n1 = crate::news::publish(&mut app, "归属测试一", "正文一", &[root], false).await;
    let n2 = crate::news::publish(&mut app, "归属测试二", "正文二", &[root], false).await;
    app.post_multipart_named(
        &format!("/admin/news/{n1}/files"),
        &[],
        &[
            ("cover", "封面.png", crate::grievances::PNG),
            ("files", "通知.pdf", b"%PDF-1.4 notice"),
        ],
    )
    .await
    .assert_status(303);
    let img: i32 = im::table
        .filter(im::owner_type.eq("news"))
        .filter(im::owner_id.eq(n1))
        .select(im::id)
        .first(&mut app.conn())
        .unwrap();
    let file: i32 = att::table
        .filter(att::owner_type.eq("news"))
        .filter(att::owner_id.eq(n1))
        .select(att::id)
        .first(&mut app.conn())
        .unwrap();
    app.cookies.clear();
    app.login_ok("demo-member").await;
    for tail in [
        format!("images/{img}"),
        format!("images/{img}/thumb"),
        format!("files/{file}"),
    ] {
        app.get(&format!("/news/{n1}/{tail}"))
            .await
            .assert_status(200);
        app.get(&format!("/news/{n2}/{tail}"))
            .await
            .assert_status(404);
    }

    // Grievances: the member's two cases; case 1's file asked for under case 2.
    let mut refs = Vec::new();
    for title in ["归属一", "归属二"] {
        let token = zhijia::auth::random_token(16);
        let r = app
            .post_multipart(
                "/grievances/new",
                &[
                    ("submit_token", token.as_str()),
                    ("category", "pay"),
                    ("title", title),
                    ("description", "说明"),
                    ("desired_outcome", "结果"),
                ],
                &[("单据.png", crate::grievances::PNG)],
            )
            .await;
        r.assert_status(303);
        refs.push(r.location().trim_start_matches("/grievances/").to_string());
    }
    let g1 = zhijia::grievances::model::find_by_ref(&mut app.conn(), &refs[0])
        .unwrap()
        .unwrap();
    // A case's files are addressed by their position in that case (never by a global id), so
    // another case's file has no address through this one: position 1 is each case's own, and
    // a position past its files is 404.
    assert_eq!(
        zhijia::grievances::model::attachments_of(&mut app.conn(), g1.id)
            .unwrap()
            .len(),
        1
    );
    let (c1, c2) = (&refs[0], &refs[1]);
    app.get(&format!("/grievances/{c1}/attachments/1"))
        .await
        .assert_status(200);
    for bad in ["2", "0", "-1", "99999"] {
        app.get(&format!("/grievances/{c2}/attachments/{bad}"))
            .await
            .assert_status(404);
    }

    // Benefit material on the member's side: a file of request 1 asked for under request 2.
    // Both the member's own, so only the parent–child check can refuse.
    let (r1, r2) = app.with(|c, now| {
        benefit_catalogue(c, now);
        (
            benefit_request(c, now, "demo-member", "健身卡补贴", "100", false),
            benefit_request(c, now, "demo-member", "退休慰问", "100", false),
        )
    });
    let now = app.state.config.clock.now();
    zhijia::attachments::insert(
        &mut app.conn(),
        ("benefit", r1),
        "证明.png",
        "image/png",
        crate::grievances::PNG,
        now,
    )
    .unwrap();
    let f1: i32 = att::table
        .filter(att::owner_type.eq("benefit"))
        .filter(att::owner_id.eq(r1))
        .select(att::id)
        .first(&mut app.conn())
        .unwrap();
    app.get(&format!("/benefits/requests/{r1}/attachments/{f1}"))
        .await
        .assert_status(200);
    app.get(&format!("/benefits/requests/{r2}/attachments/{f1}"))
        .await
        .assert_status(404);

    // The cadre's side of grievances.
    app.cookies.clear();
    app.login_ok("demo-cadre").await;
    app.get(&format!("/admin/grievances/{c1}/attachments/1"))
        .await
        .assert_status(200);
    app.get(&format!("/admin/grievances/{c2}/attachments/2"))
        .await
        .assert_status(404);
}

/// Every route with two ids, and the test here that asks for its child through another parent.
const TWO_ID_ROUTES: &[(&str, &str)] = &[
    (
        "/admin/activities/{id}/checkin/{signup}",
        "a_child_id_reached_through_another_parent_is_refused",
    ),
    (
        "/admin/benefits/{id}/attachments/{aid}",
        "a_child_id_reached_through_another_parent_is_refused",
    ),
    (
        "/admin/members/{id}/roles/{role_id}/delete",
        "a_child_id_reached_through_another_parent_is_refused",
    ),
    (
        "/showcase/{id}/photos/{img}",
        "a_child_id_reached_through_another_parent_is_refused",
    ),
    (
        "/showcase/{id}/photos/{img}/thumb",
        "a_child_id_reached_through_another_parent_is_refused",
    ),
    (
        "/admin/grievances/{case}/attachments/{aid}",
        "files_reached_through_another_parent_are_refused",
    ),
    (
        "/grievances/{case}/attachments/{aid}",
        "files_reached_through_another_parent_are_refused",
    ),
    (
        "/benefits/requests/{id}/attachments/{aid}",
        "files_reached_through_another_parent_are_refused",
    ),
    (
        "/news/{id}/files/{file}",
        "files_reached_through_another_parent_are_refused",
    ),
    (
        "/news/{id}/images/{img}",
        "files_reached_through_another_parent_are_refused",
    ),
    (
        "/news/{id}/images/{img}/thumb",
        "files_reached_through_another_parent_are_refused",
    ),
];

/// Walks the route registrations in src/ (every `"/…{a}…{b}…"` literal: actix has no API that
/// lists an app's routes) and fails for a route with two ids that has no entry above, or whose
/// test does not request a path made of the route's fixed parts.
#[test]
fn every_route_with_two_ids_has_a_parent_child_test() {
    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let literal =
        regex_lite::Regex::new(r#""(/[^"\s]*\{[a-z_]+\}[^"\s]*\{[a-z_]+\}[^"\s]*)""#).unwrap();
    let mut routes = std::collections::BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // Only registrations: a literal that follows `.route(` (possibly on the next line).
        for c in literal.captures_iter(&text) {
            let m = c.get(0).unwrap();
            let before = text[..m.start()].trim_end();
            if before.ends_with(".route(") {
                routes.insert(c[1].to_string());
            }
        }
    }
    assert!(
        routes.len() >= 10,
        "the walk found too few routes: {routes:?}"
    );
    let tests = std::fs::read_to_string(root.join("tests/it/scope.rs")).unwrap();
    let segment = regex_lite::Regex::new(r"\{[a-z_]+\}").unwrap();
    for r in &routes {
        let (_, test) = TWO_ID_ROUTES
            .iter()
            .find(|(p, _)| p == r)
            .unwrap_or_else(|| panic!("{r} has two ids and no parent–child test in TWO_ID_ROUTES"));
        let start = tests
            .find(&format!("async fn {test}("))
            .unwrap_or_else(|| panic!("no test named {test}"));
        let body_end = tests[start + 1..]
            .find("\nasync fn ")
            .or_else(|| tests[start + 1..].find("\n#[test]"))
            .map_or(tests.len(), |e| start + 1 + e);
        let body = &tests[start..body_end];
        for part in segment.split(r).filter(|p| p.len() > 1) {
            let part = part.trim_matches('/');
            assert!(
                body.contains(part),
                "{test} never requests {r} (no \"{part}\" in its body)"
            );
        }
    }
}

/// Walks the route registrations in src/ and fails for a POST route that no test posts to: its
/// path (ids as `{…}` or literal values) must appear in a request in tests/it/ outside the
/// tables here.
#[test]
fn every_post_route_is_posted_to_by_a_test() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    let mut stack = vec![root.join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                sources.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    // `.route("/path", web::post()` with the path and the method on one or two lines.
    let route = regex_lite::Regex::new(r#"\.route\(\s*"(/[^"]*)",\s*web::post\(\)"#).unwrap();
    let posts: std::collections::BTreeSet<String> = sources
        .iter()
        .flat_map(|s| {
            route
                .captures_iter(s)
                .map(|c| c[1].to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        posts.len() > 40,
        "the walk found too few POST routes: {posts:?}"
    );
    let mut tests = String::new();
    for e in std::fs::read_dir(root.join("tests/it")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        // Leave out this file's route tables: a route listed there is not a request.
        let text = match (text.find("const TWO_ID_ROUTES"), text.find("\n];\n")) {
            (Some(a), Some(b)) if a < b => format!("{}{}", &text[..a], &text[b..]),
            _ => text,
        };
        tests.push_str(&text);
    }
    let param = regex_lite::Regex::new(r"\\\{[a-z_]+\\\}").unwrap();
    let missing: Vec<&String> = posts
        .iter()
        .filter(|p| {
            let escaped = regex_lite::escape(p);
            let pattern = param.replace_all(&escaped, r#"(\{[^}"]*\}|[0-9A-Za-z-]+)"#);
            let re = regex_lite::Regex::new(&format!(r#""{pattern}[?"]"#)).unwrap();
            !re.is_match(&tests)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "POST routes no test posts to: {missing:#?}"
    );
}

/// The cadres answerable for a unit are those of the unit itself, else of the nearest
/// ancestor that has any: a team without its own cadre is served by its branch.
#[actix_web::test]
async fn a_unit_without_its_own_cadres_is_served_by_the_nearest_ancestor_that_has_some() {
    use zhijia::org::{model, scope};
    let mut app = spawn_base().await;
    let branch = model::find_by_name(&mut app.conn(), "机关分会").unwrap()[0].clone();
    let own = scope::responsible_cadres(&mut app.conn(), &branch).unwrap();
    assert!(
        own.contains(&app.member_id("demo-cadre")),
        "the branch's own cadre answers for it: {own:?}"
    );
    app.login_ok("demo-admin").await;
    app.post(
        "/admin/org",
        &[
            ("parent_id", &branch.id.to_string()),
            ("name", "档案小组"),
            ("kind", "team"),
        ],
    )
    .await
    .assert_status(303);
    let team = model::find_by_name(&mut app.conn(), "档案小组").unwrap()[0].clone();
    let served = scope::responsible_cadres(&mut app.conn(), &team).unwrap();
    assert_eq!(served, own, "the team is served by its branch's cadres");
    // The top union has a chair: nobody is left without someone answerable.
    let top = model::find(
        &mut app.conn(),
        team.path.split('/').nth(1).unwrap().parse().unwrap(),
    )
    .unwrap()
    .unwrap();
    assert!(!scope::responsible_cadres(&mut app.conn(), &top)
        .unwrap()
        .is_empty());
}
