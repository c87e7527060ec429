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
    let mut app = spawn_demo().await;
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
    assert!(!app.get("/").await.body.contains("管理后台"));
}

#[actix_web::test]
async fn an_anonymous_visitor_is_sent_to_login() {
    let mut app = spawn_demo().await;
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
    let mut app = spawn_demo().await;
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
    let mut app = spawn_demo().await;
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
    let mut app = spawn_demo().await;
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
