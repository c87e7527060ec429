//! The roster pages: create, validate, edit, disable, audit.

use crate::helpers::*;

fn branch_a(app_conn: &mut zhijia::db::PooledConn) -> i32 {
    let units = zhijia::org::model::find_by_name(app_conn, "机关分会").unwrap();
    units
        .iter()
        .find(|u| u.path.matches('/').count() == 4)
        .unwrap()
        .id
}

#[actix_web::test]
async fn a_cadre_creates_a_member_who_must_change_the_initial_password() {
    let mut app = spawn_base().await;
    let unit = branch_a(&mut app.conn()).to_string();
    app.login_ok("demo-cadre").await;
    let r = app
        .post(
            "/admin/members",
            &[
                ("employee_no", "ＺＪ２０２６"),
                ("name", " 孙悟空 "),
                ("phone", "+86 139-0000-1234"),
                ("unit_id", &unit),
            ],
        )
        .await;
    r.assert_status(200)
        .assert_contains("会员已创建")
        .assert_contains("ZJ2026");
    let m = zhijia::members::model::find_by_employee_no(&mut app.conn(), "ZJ2026")
        .unwrap()
        .unwrap();
    assert_eq!(m.name, "孙悟空");
    assert_eq!(m.phone.as_deref(), Some("13900001234"));
    assert!(m.must_change_password);
    assert_eq!(app.audit_count("member.create"), 1);
}

#[actix_web::test]
async fn invalid_member_input_rerenders_the_form_with_422_and_keeps_what_was_typed() {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre").await;
    let before = app.count("members");
    let r = app
        .post(
            "/admin/members",
            &[
                ("employee_no", "bad no!"),
                ("name", "<b>赵六</b>"),
                ("phone", "12345"),
                ("unit_id", "abc"),
            ],
        )
        .await;
    r.assert_status(422)
        .assert_contains("工号只能包含字母")
        .assert_contains("手机号应为 11 位数字")
        .assert_contains("请选择所属单位")
        .assert_contains("value=\"bad no!\"")
        .assert_contains("赵六");
    assert!(!r.body.contains("<b>赵六"), "input must be escaped");
    // A duplicate employee number is a field error too, not a 500.
    let unit = branch_a(&mut app.conn()).to_string();
    let r = app
        .post(
            "/admin/members",
            &[
                ("employee_no", "demo-member-b"),
                ("name", "重复"),
                ("phone", ""),
                ("unit_id", &unit),
            ],
        )
        .await;
    r.assert_status(422).assert_contains("该工号已存在");
    assert_eq!(app.count("members"), before);
}

#[actix_web::test]
async fn odd_inputs_never_cause_a_server_error() {
    let mut app = spawn_base().await;
    app.login_ok("demo-admin").await;
    let long = "长".repeat(5000);
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("employee_no", "")],
        vec![("employee_no", "A1"), ("name", &long), ("unit_id", "1")],
        vec![
            ("employee_no", "A2"),
            ("name", "x"),
            ("unit_id", "99999999999999"),
        ],
        vec![("employee_no", "A3"), ("name", "x"), ("unit_id", "-1")],
        vec![
            ("employee_no", "A4"),
            ("name", "\u{0000}"),
            ("unit_id", "1"),
        ],
        vec![
            ("employee_no", "A5"),
            ("name", "x"),
            ("phone", "１３９００００９９９９"),
            ("unit_id", "1"),
        ],
    ];
    for c in cases {
        let r = app.post("/admin/members", &c).await;
        assert!(r.status.as_u16() < 500, "{c:?} → {}", r.status);
    }
    for p in [
        "/admin/members?page=-5",
        "/admin/members?page=abc",
        "/admin/members?unit=x",
        "/admin/members/abc",
        "/admin/members/99999999999",
        "/admin/audit?from=garbage&page=999999",
    ] {
        let r = app.get(p).await;
        assert!(r.status.as_u16() < 500, "{p} → {}", r.status);
    }
}

#[actix_web::test]
async fn the_member_list_paginates_and_searches() {
    let mut app = spawn_base().await;
    // With the base union's 10 accounts: 50 members, three pages of 20.
    app.with(|c, now| {
        let unit = unit_id(c, "路桥分会");
        add_members(c, now, unit, "P", 40)
    });
    app.login_ok("demo-admin").await;
    let r = app.get("/admin/members").await;
    r.assert_status(200).assert_contains("第 1 / 3 页");
    let r = app.get("/admin/members?page=3").await;
    r.assert_contains("第 3 / 3 页");
    let r = app.get("/admin/members?q=P00040").await;
    r.assert_contains("测试40").assert_contains("路桥分会");
    let r = app.get("/admin/members?q=13800000004").await;
    r.assert_contains("demo-cadre-b").assert_contains("刘芳");
    let r = app.get("/admin/members?q=nobody-matches-this").await;
    r.assert_contains("没有找到会员");
}

#[actix_web::test]
async fn disabling_asks_for_confirmation_first() {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre").await;
    let id = app.member_id("demo-member");
    let r = app.get(&format!("/admin/members/{id}/disable")).await;
    r.assert_status(200)
        .assert_contains("确定停用")
        .assert_contains("确认停用");
    assert!(
        !zhijia::members::model::find(&mut app.conn(), id)
            .unwrap()
            .unwrap()
            .disabled
    );
    app.post(&format!("/admin/members/{id}/disable"), &[])
        .await
        .assert_status(303);
    assert!(
        zhijia::members::model::find(&mut app.conn(), id)
            .unwrap()
            .unwrap()
            .disabled
    );
    app.get(&format!("/admin/members/{id}"))
        .await
        .assert_contains("已停用，该会员的登录已全部失效");
    app.post(&format!("/admin/members/{id}/enable"), &[])
        .await
        .assert_status(303);
    assert!(
        !zhijia::members::model::find(&mut app.conn(), id)
            .unwrap()
            .unwrap()
            .disabled
    );
    assert_eq!(app.audit_count("member.disable"), 1);
    assert_eq!(app.audit_count("member.enable"), 1);
}

#[actix_web::test]
async fn the_grid_cadre_is_assigned_from_cadres_above_the_member() {
    let mut app = spawn_base().await;
    app.login_ok("demo-chair").await;
    let member = app.member_id("demo-member");
    let cadre_b = app.member_id("demo-cadre-b").to_string();
    let cadre = app.member_id("demo-cadre").to_string();
    app.post(
        &format!("/admin/members/{member}/grid"),
        &[("cadre_id", &cadre_b)],
    )
    .await
    .assert_status(303);
    app.get(&format!("/admin/members/{member}"))
        .await
        .assert_contains("网格员必须是");
    app.post(
        &format!("/admin/members/{member}/grid"),
        &[("cadre_id", &cadre)],
    )
    .await
    .assert_status(303);
    let m = zhijia::members::model::find(&mut app.conn(), member)
        .unwrap()
        .unwrap();
    assert_eq!(m.grid_cadre_id, Some(cadre.parse().unwrap()));
}

#[actix_web::test]
async fn nul_bytes_and_wildcards_get_a_clear_answer_not_a_server_error() {
    let mut app = spawn_base().await;
    app.login_ok("demo-admin").await;
    let r = app
        .post(
            "/admin/members",
            &[("employee_no", "N1"), ("name", "a\u{0}b"), ("unit_id", "1")],
        )
        .await;
    r.assert_status(422).assert_contains("非法字符");
    app.login("demo\u{0}member", "zhijia-demo")
        .await
        .assert_status(422);
    // A raw NUL byte in the body (not %00-encoded) gets the same answer.
    let token = app.csrf().await;
    let mut raw = format!("csrf_token={token}&employee_no=N2&unit_id=1&name=a").into_bytes();
    raw.extend_from_slice(b"\0b");
    app.send(
        actix_web::test::TestRequest::post()
            .uri("/admin/members")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(raw),
    )
    .await
    .assert_status(422)
    .assert_contains("非法字符");
    // LIKE wildcards and control characters are dropped from the search text, never used as
    // patterns: "王_明" is the text "王明", which matches nobody (as a pattern it would match
    // 王小明), and "王%小明" is "王小明".
    app.get("/admin/members?q=%E7%8E%8B_%E6%98%8E")
        .await
        .assert_status(200)
        .assert_contains("没有找到会员");
    app.get("/admin/members?q=%E7%8E%8B%25%E5%B0%8F%E6%98%8E")
        .await
        .assert_status(200)
        .assert_contains("王小明");
    // Nothing but wildcards and NUL is an empty search: the whole list, no error.
    let all = app.get("/admin/members").await;
    let odd = app.get("/admin/members?q=%00%25_").await;
    odd.assert_status(200);
    assert!(!odd.body.contains("没有找到会员"));
    assert!(all.body.matches("<tr").count() > 1);
    assert_eq!(
        odd.body.matches("<tr").count(),
        all.body.matches("<tr").count()
    );
    // The audit filters the same way.
    let all = app.get("/admin/audit").await;
    for q in ["actor=%00&action=%00", "actor=%25"] {
        let r = app.get(&format!("/admin/audit?{q}")).await;
        r.assert_status(200);
        assert!(!r.body.contains("没有符合条件的记录"), "{q}");
        assert_eq!(
            r.body.matches("<tr").count(),
            all.body.matches("<tr").count()
        );
    }
    app.get("/admin/audit?actor=%E7%8E%8B_%E6%98%8E")
        .await
        .assert_status(200)
        .assert_contains("没有符合条件的记录");
}

/// Who may manage whom: a chair cannot take over the finance account (or any account holding a
/// role at the chair's own level), a cadre cannot reset a chair, nobody resets themselves; an
/// administrator resets anyone, and the owner is told who did it.
#[actix_web::test]
async fn staff_accounts_are_managed_only_by_an_admin_or_a_chair_strictly_above() {
    let mut app = spawn_base().await;
    let finance = app.member_id("demo-finance");
    let chair = app.member_id("demo-chair");
    let cadre = app.member_id("demo-cadre");
    let member = app.member_id("demo-member");
    let reset = |id: i32| format!("/admin/members/{id}/reset-password");

    app.login_ok("demo-chair").await;
    for target in [finance, chair] {
        app.get(&reset(target)).await.assert_status(404);
        app.post(&reset(target), &[]).await.assert_status(404);
    }
    app.post(&format!("/admin/members/{finance}/disable"), &[])
        .await
        .assert_status(404);
    app.get(&format!("/admin/members/{finance}"))
        .await
        .assert_status(404);
    // The chair is strictly above branch A's cadre role, and manages plain members.
    app.post(&reset(cadre), &[])
        .await
        .assert_status(200)
        .assert_contains("初始密码");
    app.post(&reset(member), &[])
        .await
        .assert_status(200)
        .assert_contains("初始密码");
    app.logout().await;

    app.login_ok("demo-cadre-b").await;
    app.post(&reset(chair), &[]).await.assert_status(404);
    app.logout().await;
    // demo-cadre's password was reset above; demo-member-b is a plain member of branch B.
    let member_b = app.member_id("demo-member-b");
    app.login_ok("demo-cadre-b").await;
    app.post(&reset(member_b), &[])
        .await
        .assert_status(200)
        .assert_contains("初始密码");
    app.logout().await;

    app.login_ok("demo-admin").await;
    app.post(&reset(finance), &[])
        .await
        .assert_status(200)
        .assert_contains("初始密码");
    let admin = app.member_id("demo-admin");
    app.post(&reset(admin), &[]).await.assert_status(404);

    // The finance account's owner is told, by name of who reset it.
    use diesel::prelude::*;
    use zhijia::db::schema::notifications as n;
    let titles: Vec<String> = n::table
        .filter(n::member_id.eq(finance))
        .select(n::title)
        .load(&mut app.conn())
        .unwrap();
    assert!(
        titles
            .iter()
            .any(|t| t.contains("密码已被") && t.contains("重置")),
        "{titles:?}"
    );
    assert_eq!(app.audit_count("password.reset"), 4);
}
