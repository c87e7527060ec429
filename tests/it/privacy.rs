//! 谁看过我的信息 (issue 30, item 7): reads of a member's data that the older features did not
//! record — a card check, a chair reading a named letter, a cadre opening a membership
//! application or a transfer — are audited and listed on the member's /me/privacy; reading an
//! anonymous letter leaves no row that names anyone.

use crate::builders;
use crate::helpers::*;

fn letter_ref(conn: &mut zhijia::db::DbConnection, subject: &str) -> String {
    use diesel::prelude::*;
    use zhijia::db::schema::mailbox_letters as l;
    zhijia::on_backend!(conn, c => l::table
        .filter(l::subject.eq(subject))
        .select(l::public_ref)
        .first::<String>(c))
    .unwrap()
}

#[actix_web::test]
async fn a_card_check_and_a_look_at_a_transfer_are_on_the_members_privacy_page() {
    let mut app = spawn_base().await;
    let (member, to) = {
        let mut c = app.conn();
        (
            builders::user(&mut c, "demo-member").id,
            builders::user(&mut c, "demo-cadre-b").unit_id,
        )
    };
    let now = app.state.config.clock.now();
    let code = zhijia::membership::card::code_for(&app.state.config.secret_key, member, now);
    app.login_ok("demo-chair").await;
    app.post("/admin/card-check", &[("code", &code)])
        .await
        .assert_contains("会籍状态：会员");
    app.logout().await;
    app.login_ok("demo-cadre").await;
    let r = app
        .post(
            "/admin/membership/transfers/new",
            &[
                ("member", &member.to_string()),
                ("to_unit", &to.to_string()),
                ("reason", "工作调动"),
            ],
        )
        .await;
    r.assert_status(303);
    app.get(r.location()).await.assert_status(200);
    assert_eq!(app.audit_count("transfer.view"), 1);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get("/me/privacy")
        .await
        .assert_status(200)
        .assert_contains("陈志强")
        .assert_contains("核验会员证")
        .assert_contains("张建国")
        .assert_contains("查看转会");
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.get("/me/privacy")
        .await
        .assert_ok_without("核验会员证")
        .assert_ok_without("查看转会");
}

/// The branch cadre reads an application before there is a member to name: the row shows on
/// the new member's page once the application is approved.
#[actix_web::test]
async fn a_look_at_a_membership_application_is_on_the_new_members_privacy_page() {
    let mut app = spawn_base().await;
    let unit = builders::user(&mut app.conn(), "demo-member")
        .unit_id
        .to_string();
    let form = [
        ("name", "赵新员"),
        ("employee_no", "J0500"),
        ("phone", "13911115000"),
        ("unit_id", unit.as_str()),
        (
            "statement",
            "本人自愿加入中国工会，遵守工会章程，按时交纳会费。",
        ),
        ("consent", "1"),
    ];
    app.post("/join", &form).await.assert_status(200);
    let id: i32 = {
        use diesel::prelude::*;
        use zhijia::db::schema::membership_applications as a;
        let mut conn = app.conn();
        zhijia::on_backend!(&mut *conn, c => a::table
            .filter(a::employee_no.eq("J0500"))
            .select(a::id)
            .first::<i32>(c))
        .unwrap()
    };
    let path = format!("/admin/membership/applications/{id}");
    app.login_ok("demo-cadre").await;
    app.get(&path).await.assert_status(200);
    app.post(
        &path,
        &[("action", "review"), ("version", "0"), ("reason", "")],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.post(
        &path,
        &[("action", "approve"), ("version", "1"), ("reason", "")],
    )
    .await
    .assert_status(200);
    let member = app.member_id("J0500");
    let seen = zhijia::audit::privacy::accesses(&mut app.conn(), member).unwrap();
    assert!(
        seen.iter()
            .any(|a| a.who == "张建国" && a.what.contains("查看入会申请")),
        "{:?}",
        seen.iter().map(|a| (&a.who, &a.what)).collect::<Vec<_>>()
    );
}

/// A named letter read by the chair is on its writer's page; the anonymous one, read as well,
/// gives no audit row at all (and so nothing that could name its writer).
#[actix_web::test]
async fn reading_a_named_letter_is_on_the_writers_page_and_an_anonymous_one_nowhere() {
    let mut app = spawn_base().await;
    let to = builders::unit_id(&mut app.conn(), "第一工程公司工会").to_string();
    app.login_ok("demo-member").await;
    for (subject, anonymous) in [("实名：食堂菜价偏高", ""), ("匿名：班组长克扣补贴", "1")]
    {
        let r = app
            .post(
                "/mailbox",
                &[
                    ("unit_id", &to),
                    ("subject", subject),
                    ("body", "希望工会了解一下情况并尽快给予答复，谢谢。"),
                    ("anonymous", anonymous),
                ],
            )
            .await;
        assert!(
            r.status.is_success() || r.status.is_redirection(),
            "{}",
            r.body
        );
    }
    let named = letter_ref(&mut app.conn(), "实名：食堂菜价偏高");
    let anonymous = letter_ref(&mut app.conn(), "匿名：班组长克扣补贴");
    app.logout().await;
    app.login_ok("demo-chair").await;
    for r in [&named, &anonymous] {
        app.get(&format!("/admin/mailbox/{r}"))
            .await
            .assert_status(200);
    }
    assert_eq!(app.audit_count("mailbox.view"), 1, "the named letter only");
    assert_eq!(
        app.count(&format!("audit_log WHERE object_id = '{anonymous}'"))
            + app.count("audit_deferred WHERE action = 'mailbox.view'"),
        0
    );
    app.logout().await;
    app.login_ok("demo-member").await;
    let page = app.get("/me/privacy").await;
    page.assert_status(200).assert_contains("陈志强");
    assert_eq!(
        page.body.matches("查看实名来信").count(),
        1,
        "{}",
        page.body
    );
    assert!(!page.body.contains(&anonymous));
}
