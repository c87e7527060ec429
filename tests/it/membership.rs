//! 会员管理 (issue 18): joining through branch review and chair approval to a first login,
//! returns and rejections with reasons, duplicates (accepted like any other application, caught
//! at review) and the per-address limit; a transfer that hands open cases to the new unit's
//! cadres; the member card's signed, short-lived code, checked only by a POST.

use crate::builders;
use crate::helpers::*;

const SECRET_RE: &str = r#"<p class="secret">([0-9A-Za-z-]+)</p>"#;

fn secret_of(body: &str) -> String {
    regex_lite::Regex::new(SECRET_RE)
        .unwrap()
        .captures(body)
        .unwrap_or_else(|| panic!("no secret in {body}"))[1]
        .to_string()
}

/// The form of someone joining 机关分会 of 第一工程公司 (demo-member's unit).
fn join_form(unit: i32, no: &str, phone: &str) -> Vec<(String, String)> {
    vec![
        ("name".into(), "赵新员".into()),
        ("employee_no".into(), no.into()),
        ("phone".into(), phone.into()),
        ("unit_id".into(), unit.to_string()),
        (
            "statement".into(),
            "本人自愿加入中国工会，遵守工会章程，按时交纳会费。".into(),
        ),
        ("consent".into(), "1".into()),
    ]
}

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn app_state(conn: &mut zhijia::db::DbConnection, id: i32) -> (String, i32) {
    use diesel::prelude::*;
    use zhijia::db::schema::membership_applications as a;
    zhijia::on_backend!(conn, c => a::table
        .find(id)
        .select((a::state, a::version))
        .first::<(String, i32)>(c))
    .unwrap()
}

fn latest_application(conn: &mut zhijia::db::DbConnection) -> i32 {
    use diesel::prelude::*;
    use zhijia::db::schema::membership_applications as a;
    zhijia::on_backend!(conn, c => a::table
        .select(diesel::dsl::max(a::id))
        .first::<Option<i32>>(c))
    .unwrap()
    .unwrap()
}

#[actix_web::test]
async fn an_application_goes_from_join_through_branch_and_chair_to_a_first_login() {
    let mut app = spawn_base().await;
    let unit = builders::user(&mut app.conn(), "demo-member").unit_id;
    app.get("/join")
        .await
        .assert_status(200)
        .assert_contains("申请加入工会");
    // Bad input comes back re-filled with each field's message.
    let mut bad = join_form(unit, "J0001", "12345");
    bad.retain(|(k, _)| k != "consent");
    app.post("/join", &pairs(&bad))
        .await
        .assert_status(422)
        .assert_contains("赵新员")
        .assert_contains("请阅读并同意");
    let r = app
        .post("/join", &pairs(&join_form(unit, "J0001", "13911110001")))
        .await;
    r.assert_status(200).assert_contains("入会申请已提交");
    let code = secret_of(&r.body);
    let id = latest_application(&mut app.conn());
    // Progress by phone and code; a wrong code is refused.
    app.post("/join/status", &[("phone", "13911110001"), ("code", &code)])
        .await
        .assert_status(200)
        .assert_contains("待分会初审");
    app.post(
        "/join/status",
        &[("phone", "13911110001"), ("code", "AAAA-BBBB")],
    )
    .await
    .assert_status(422);

    // Another branch's cadre does not see it.
    app.login_ok("demo-cadre-b").await;
    app.get(&format!("/admin/membership/applications/{id}"))
        .await
        .assert_status(404);
    app.logout().await;
    // The branch cadre reviews it; they cannot approve it.
    app.login_ok("demo-cadre").await;
    app.get("/admin/membership")
        .await
        .assert_status(200)
        .assert_contains("赵新员");
    let path = format!("/admin/membership/applications/{id}");
    app.get(&path)
        .await
        .assert_status(200)
        .assert_contains("初审通过");
    app.post(
        &path,
        &[("action", "review"), ("version", "0"), ("reason", "")],
    )
    .await
    .assert_status(303);
    assert_eq!(app_state(&mut app.conn(), id), ("reviewed".into(), 1));
    app.post(
        &path,
        &[("action", "approve"), ("version", "1"), ("reason", "")],
    )
    .await
    .assert_status(403);
    app.logout().await;
    // The union's chair approves: the account exists, its password shown once.
    app.login_ok("demo-chair").await;
    let r = app
        .post(
            &path,
            &[("action", "approve"), ("version", "1"), ("reason", "")],
        )
        .await;
    r.assert_status(200).assert_contains("已批准入会");
    let password = secret_of(&r.body);
    assert_eq!(app_state(&mut app.conn(), id).0, "approved");
    app.logout().await;
    // First login, then the forced password change.
    let r = app.login("J0001", &password).await;
    assert_eq!(r.status.as_u16(), 303, "{}", r.body);
    let member = builders::user(&mut app.conn(), "J0001");
    assert_eq!(member.unit_id, unit);
    assert_eq!(member.membership, "member");
    let history = zhijia::membership::model::history(&mut app.conn(), member.id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].status.as_str(), history[0].note.as_str()),
        ("member", "批准入会")
    );
    for action in [
        "membership.apply",
        "membership.review",
        "membership.approve",
        "member.create",
    ] {
        assert_eq!(
            app.count(&format!("audit_log WHERE action = '{action}'")),
            1,
            "{action} audited once"
        );
    }
}

#[actix_web::test]
async fn a_return_is_answered_by_the_applicant_and_a_rejection_names_its_reason() {
    let mut app = spawn_base().await;
    let unit = builders::user(&mut app.conn(), "demo-member").unit_id;
    let r = app
        .post("/join", &pairs(&join_form(unit, "J0002", "13911110003")))
        .await;
    let code = secret_of(&r.body);
    let id = latest_application(&mut app.conn());
    let path = format!("/admin/membership/applications/{id}");
    app.login_ok("demo-cadre").await;
    // A return needs a reason.
    app.post(
        &path,
        &[("action", "return"), ("version", "0"), ("reason", "")],
    )
    .await
    .assert_status(422)
    .assert_contains("请写明原因");
    app.post(
        &path,
        &[
            ("action", "return"),
            ("version", "0"),
            ("reason", "请写明现任岗位"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    let r = app
        .post("/join/status", &[("phone", "13911110003"), ("code", &code)])
        .await;
    r.assert_status(200)
        .assert_contains("请写明现任岗位")
        .assert_contains("重新提交");
    app.post(
        "/join/status/resubmit",
        &[
            ("phone", "13911110003"),
            ("code", &code),
            ("statement", "本人现任钢筋工，自愿加入工会，遵守章程。"),
        ],
    )
    .await
    .assert_status(200)
    .assert_contains("已重新提交");
    assert_eq!(app_state(&mut app.conn(), id).0, "submitted");
    app.login_ok("demo-cadre").await;
    app.post(
        &path,
        &[
            ("action", "reject"),
            ("version", "2"),
            ("reason", "非本单位职工"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.post("/join/status", &[("phone", "13911110003"), ("code", &code)])
        .await
        .assert_status(200)
        .assert_contains("未通过")
        .assert_contains("非本单位职工");
    // A rejected application does not block a new one.
    app.post("/join", &pairs(&join_form(unit, "J0002", "13911110003")))
        .await
        .assert_status(200);
}

#[actix_web::test]
async fn one_address_may_send_five_applications_a_day() {
    let mut app = spawn_base().await;
    let unit = builders::user(&mut app.conn(), "demo-member").unit_id;
    for i in 0..5 {
        app.post(
            "/join",
            &pairs(&join_form(
                unit,
                &format!("K{i:04}"),
                &format!("1390000000{i}"),
            )),
        )
        .await
        .assert_status(200);
    }
    app.post("/join", &pairs(&join_form(unit, "K0009", "13900000009")))
        .await
        .assert_status(429);
    // The next day the address may apply again.
    app.state.config.clock.advance(25 * 3600);
    app.post("/join", &pairs(&join_form(unit, "K0009", "13900000009")))
        .await
        .assert_status(200);
}

#[actix_web::test]
async fn a_transfer_hands_open_cases_to_the_new_units_cadres_and_keeps_the_history() {
    let mut app = spawn_base().await;
    let (case, request) = app.with(|c, now| {
        builders::benefit_catalogue(c, now);
        (
            builders::grievance(c, now, "demo-member", "加班费未发放"),
            builders::benefit_request(c, now, "demo-member", "生日慰问", "200", false),
        )
    });
    let (member, to) = {
        let mut c = app.conn();
        (
            builders::user(&mut c, "demo-member"),
            builders::user(&mut c, "demo-cadre-b").unit_id,
        )
    };
    app.login_ok("demo-cadre").await;
    let r = app
        .post(
            "/admin/membership/transfers/new",
            &[
                ("member", &member.id.to_string()),
                ("to_unit", &to.to_string()),
                ("reason", "工作调动"),
            ],
        )
        .await;
    r.assert_status(303);
    let t = r.location().rsplit('/').next().unwrap().to_string();
    let path = format!("/admin/membership/transfers/{t}");
    app.logout().await;
    // While the transfer is under way the member cannot file a case, and is told why.
    app.login_ok("demo-member").await;
    app.get("/me/membership")
        .await
        .assert_status(200)
        .assert_contains("转会中");
    app.get("/grievances/new").await.assert_status(200);
    let r = app.post("/activities/1/signup", &[]).await;
    r.assert_status(403).assert_contains("转会中");
    app.logout().await;
    // The receiving cadre cannot release; the sending cadre can.
    app.login_ok("demo-cadre-b").await;
    app.post(
        &path,
        &[("action", "release"), ("version", "0"), ("note", "")],
    )
    .await
    .assert_status(403);
    app.logout().await;
    app.login_ok("demo-cadre").await;
    app.post(
        &path,
        &[("action", "release"), ("version", "0"), ("note", "同意")],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-cadre-b").await;
    app.post(
        &path,
        &[("action", "accept"), ("version", "1"), ("note", "")],
    )
    .await
    .assert_status(303);
    // Their dashboard counts one transfer in this month; the sender's one out.
    let d = app.get("/admin/dashboard").await;
    d.assert_status(200)
        .assert_contains(r#"<td data-label="转入">1</td>"#);
    // The case is now theirs, with a line saying so; the benefit request too.
    let r = app.get(&format!("/admin/grievances/{case}")).await;
    r.assert_status(200)
        .assert_contains("本事项移交项目一部分会办理");
    app.get(&format!("/admin/benefits/{request}"))
        .await
        .assert_status(200);
    app.logout().await;
    app.login_ok("demo-cadre").await;
    app.get(&format!("/admin/grievances/{case}"))
        .await
        .assert_status(404);
    app.logout().await;
    let moved = builders::user(&mut app.conn(), "demo-member");
    assert_eq!((moved.unit_id, moved.membership.as_str()), (to, "member"));
    let history = zhijia::membership::model::history(&mut app.conn(), member.id).unwrap();
    let statuses: Vec<&str> = history.iter().map(|h| h.status.as_str()).collect();
    assert_eq!(statuses, ["member", "transferring", "member"]);
    assert_eq!(history[2].unit_name, "项目一部分会");
    // The member's own cases stay theirs.
    app.login_ok("demo-member").await;
    app.get(&format!("/grievances/{case}"))
        .await
        .assert_status(200);
}

#[actix_web::test]
async fn between_subsidiaries_both_steps_need_the_chairs() {
    let mut app = spawn_base().await;
    let (member, to) = {
        let mut c = app.conn();
        (
            builders::user(&mut c, "demo-member-b"),
            builders::user(&mut c, "road-cadre").unit_id,
        )
    };
    app.login_ok("demo-cadre-b").await;
    let r = app
        .post(
            "/admin/membership/transfers/new",
            &[
                ("member", &member.id.to_string()),
                ("to_unit", &to.to_string()),
                ("reason", "调往路桥"),
            ],
        )
        .await;
    r.assert_status(303);
    let path = r.location().to_string();
    // The branch cadre may not release across subsidiaries; their chair may.
    app.post(
        &path,
        &[("action", "release"), ("version", "0"), ("note", "")],
    )
    .await
    .assert_status(403);
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.post(
        &path,
        &[("action", "release"), ("version", "0"), ("note", "")],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("road-cadre").await;
    app.post(
        &path,
        &[("action", "accept"), ("version", "1"), ("note", "")],
    )
    .await
    .assert_status(403);
    app.logout().await;
    app.login_ok("sub2-chair").await;
    app.post(
        &path,
        &[("action", "accept"), ("version", "1"), ("note", "")],
    )
    .await
    .assert_status(303);
    assert_eq!(builders::user(&mut app.conn(), "demo-member-b").unit_id, to);
}

#[actix_web::test]
async fn a_card_code_holds_for_under_a_minute_and_a_forged_one_never() {
    let mut app = spawn_base().await;
    let member = builders::user(&mut app.conn(), "demo-member");
    app.login_ok("demo-member").await;
    app.get("/me/card")
        .await
        .assert_status(200)
        .assert_contains("电子会员证")
        .assert_contains("<svg class=\"qr\"")
        .assert_contains("ZJ");
    // A member cannot use the scan page.
    app.get("/admin/card-check").await.assert_status(403);
    app.logout().await;
    let now = app.state.config.clock.now();
    let code = zhijia::membership::card::code_for(&app.state.config.secret_key, member.id, now);
    app.login_ok("demo-cadre").await;
    let r = app.post("/admin/card-check", &[("code", &code)]).await;
    r.assert_status(200)
        .assert_contains("有效")
        .assert_contains("会籍状态：会员");
    assert!(!r.body.contains("王小明"), "the scan page shows no name");
    let forged = code.replacen(
        &format!(".{}.", member.id),
        &format!(".{}.", member.id + 1),
        1,
    );
    app.post("/admin/card-check", &[("code", &forged)])
        .await
        .assert_status(200)
        .assert_contains("无效");
    app.state.config.clock.advance(61);
    app.post("/admin/card-check", &[("code", &code)])
        .await
        .assert_status(200)
        .assert_contains("无效");
}

/// Found in issue 30: opening the scan link (a GET any page can make a cadre's browser send)
/// only fills the form — no verdict, no audit row to plant; the cadre's POST checks the card
/// and writes the one row.
#[actix_web::test]
async fn opening_a_scan_link_checks_nothing_and_only_the_post_is_audited() {
    let mut app = spawn_base().await;
    let member = app.member_id("demo-member");
    let now = app.state.config.clock.now();
    let code = zhijia::membership::card::code_for(&app.state.config.secret_key, member, now);
    let link = format!("{PUBLIC_URL}/admin/card-check?code={code}");
    app.login_ok("demo-cadre").await;
    let r = app
        .get(&format!(
            "/admin/card-check?code={}",
            zhijia::text::url_encode(&link)
        ))
        .await;
    r.assert_status(200)
        .assert_contains(&format!("value=\"{code}\""))
        .assert_contains(r#"<form method="post" action="/admin/card-check""#);
    assert!(
        !r.body.contains("verdict"),
        "a GET checks nothing:\n{}",
        r.body
    );
    assert_eq!(
        app.audit_count("card.check"),
        0,
        "a GET writes no audit row"
    );
    app.post("/admin/card-check", &[("code", &link)])
        .await
        .assert_status(200)
        .assert_contains("会籍状态：会员");
    assert_eq!(app.audit_count("card.check"), 1);
}

/// Found in issue 30: the card's QR link and the venue's check-in link start with the
/// configured ZHIJIA_PUBLIC_URL; forwarded-host and -proto headers (sent here with no proxy
/// trusted) change nothing.
#[actix_web::test]
async fn qr_links_come_from_the_configured_address_never_from_request_headers() {
    let mut app = spawn_base().await;
    let activity = app.with(|c, now| {
        builders::activity(
            c,
            now,
            "第一工程公司工会",
            "职工趣味运动会",
            50,
            chrono::Duration::minutes(30),
        )
    });
    let forged = |path: &str| {
        actix_web::test::TestRequest::get()
            .uri(path)
            .insert_header(("x-forwarded-host", "evil.example"))
            .insert_header(("x-forwarded-proto", "javascript"))
            .insert_header(("forwarded", "proto=javascript;host=evil.example"))
    };
    let planted = |body: &str| body.contains("evil.example") || body.contains("javascript:");
    app.login_ok("demo-member").await;
    let r = app.send(forged("/me/card")).await;
    r.assert_status(200).assert_contains(&format!(
        "data-link=\"{PUBLIC_URL}/admin/card-check?code=ZJC1."
    ));
    assert!(!planted(&r.body), "{}", r.body);
    app.logout().await;
    app.login_ok("demo-chair").await;
    let r = app
        .send(forged(&format!("/admin/activities/{activity}/venue")))
        .await;
    r.assert_status(200)
        .assert_contains(&format!("{PUBLIC_URL}/activities/{activity}/checkin?t="));
    assert!(!planted(&r.body), "{}", r.body);
}

fn dues_rows(conn: &mut zhijia::db::DbConnection) -> Vec<(i32, String, i64)> {
    use diesel::prelude::*;
    use zhijia::db::schema::member_dues as d;
    zhijia::on_backend!(conn, c => d::table
        .select((d::member_id, d::month, d::amount_fen))
        .order((d::member_id, d::month))
        .load(c))
    .unwrap()
}

/// Dues from payroll: a file imported twice gives the same rows (the second run reports every
/// row unchanged), a corrected amount is updated, bad rows are reported by line; the member
/// sees their months; the cadre's list of who is behind, and its XLSX, name the rest.
#[actix_web::test]
async fn a_dues_import_run_twice_gives_the_same_rows_and_the_arrears_list_names_the_rest() {
    let mut app = spawn_base().await;
    let now = app.state.config.clock.now();
    let months: Vec<String> = (1..=3)
        .map(|n| zhijia::membership::dues::months_back(now, n))
        .collect();
    let mut csv = String::from("工号,月份,金额（分）\n");
    for m in &months {
        csv.push_str(&format!("demo-member,{m},1500\n"));
    }
    csv.push_str("demo-member,2026-13,1500\nnobody,2026-01,1500\nroad-cadre,2026-01,1500\n");
    csv.push_str("demo-member,2062-01,1500\n");
    app.login_ok("demo-cadre").await;
    let r = app
        .post_multipart_named(
            "/admin/membership/dues",
            &[],
            &[("file", "dues.csv", csv.as_bytes())],
        )
        .await;
    r.assert_status(200)
        .assert_contains("新增 3 条，更正 0 条，未变 0 条，错误 4 条")
        .assert_contains("月份应为")
        .assert_contains("月份不能晚于下个月");
    // An unknown number reads exactly like another unit's member (issue 30, finding 11).
    assert!(!r.body.contains("没有这个工号"), "{}", r.body);
    assert_eq!(
        r.body.matches("不在您的管理范围内").count(),
        2,
        "{}",
        r.body
    );
    let first = dues_rows(&mut app.conn());
    assert_eq!(first.len(), 3);
    let r = app
        .post_multipart_named(
            "/admin/membership/dues",
            &[],
            &[("file", "dues.csv", csv.as_bytes())],
        )
        .await;
    r.assert_status(200)
        .assert_contains("新增 0 条，更正 0 条，未变 3 条，错误 4 条");
    assert_eq!(
        dues_rows(&mut app.conn()),
        first,
        "the same rows after a second run"
    );
    let fixed = csv.replacen(",1500\n", ",1800\n", 1);
    app.post_multipart_named(
        "/admin/membership/dues",
        &[],
        &[("file", "dues.csv", fixed.as_bytes())],
    )
    .await
    .assert_status(200)
    .assert_contains("更正 1 条");
    // The list of who is behind: demo-member paid, demo-cadre (same branch) did not.
    let r = app.get("/admin/membership/dues?months=3").await;
    r.assert_status(200).assert_contains("张建国");
    let (_, list) = r.body.split_once("连续 3 个月未交会费").unwrap();
    assert!(!list.contains("王小明"), "demo-member paid");
    assert!(
        !list.contains("孙路桥"),
        "another subsidiary's member is out of scope"
    );
    let x = app
        .get("/admin/membership/dues/arrears.xlsx?months=3")
        .await;
    x.assert_status(200);
    assert!(x.body.starts_with("PK"), "an XLSX file");
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get("/me/membership")
        .await
        .assert_status(200)
        .assert_contains(&months[0])
        .assert_contains("18.00");
}

/// Issue 30, finding 10 (red before: the placeholder number `removed-{id}` matched the
/// anonymised row, previewed as 更新 and renamed on confirmation; dues were added to it): an
/// anonymised member is matched by neither the roster nor the dues import.
#[actix_web::test]
async fn an_import_never_gives_an_anonymised_member_a_name_again() {
    let mut app = spawn_base().await;
    let id = app.member_id("demo-member");
    let now = app.state.config.clock.now();
    zhijia::membership::model::anonymise(&mut app.conn(), id, now).unwrap();
    let placeholder = format!("removed-{id}");
    let roster = format!(
        "工号,姓名,手机,单位\n{placeholder},王小明,13800000001,第一工程公司工会/机关分会\n"
    );
    app.login_ok("demo-cadre").await;
    let r = app
        .post_multipart_named(
            "/admin/members/import",
            &[],
            &[("file", "r.csv", roster.as_bytes())],
        )
        .await;
    r.assert_status(200)
        .assert_contains("工号不能以 removed- 开头");
    assert!(!r.body.contains("class=\"badge\">更新<"), "{}", r.body);
    app.post(&crate::import::confirm_action(&r.body), &[])
        .await
        .assert_status(303);
    assert_eq!(
        app.count(&format!(
            "members WHERE id = {id} AND name = '已注销会员' AND phone IS NULL"
        )),
        1,
        "the placeholder keeps no name"
    );
    let dues = format!("工号,月份,金额（分）\n{placeholder},2026-04,1500\n");
    app.post_multipart_named(
        "/admin/membership/dues",
        &[],
        &[("file", "dues.csv", dues.as_bytes())],
    )
    .await
    .assert_status(200)
    .assert_contains("不在您的管理范围内");
    assert_eq!(app.count(&format!("member_dues WHERE member_id = {id}")), 0);
}

/// Retirement keeps membership; leaving disables the account; the retention job anonymises a
/// member who left longer ago than the period (set by the administrator) and leaves one who
/// left yesterday.
#[actix_web::test]
async fn the_retention_job_anonymises_who_left_long_ago_and_keeps_who_left_yesterday() {
    let mut app = spawn_base().await;
    let (a, b, c) = {
        let mut conn = app.conn();
        (
            builders::user(&mut conn, "demo-member").id,
            builders::user(&mut conn, "demo-member-b").id,
            builders::user(&mut conn, "demo-cadre-b").id,
        )
    };
    let case = app.with(|conn, now| builders::grievance(conn, now, "demo-member", "食堂卫生问题"));
    app.login_ok("demo-admin").await;
    app.post("/admin/membership/retention", &[("years", "0")])
        .await
        .assert_status(303);
    app.post("/admin/membership/retention", &[("years", "2")])
        .await
        .assert_status(303);
    app.post(
        &format!("/admin/membership/members/{c}/leave"),
        &[("choice", "keep"), ("note", "")],
    )
    .await
    .assert_status(303);
    app.post(
        &format!("/admin/membership/members/{a}/leave"),
        &[("choice", "leave"), ("note", "本人申请")],
    )
    .await
    .assert_status(303);
    app.logout().await;
    assert_eq!(
        builders::user(&mut app.conn(), "demo-cadre-b").membership,
        "retired"
    );
    assert_ne!(
        app.login("demo-member", "zhijia-demo")
            .await
            .status
            .as_u16(),
        303,
        "a disabled account cannot log in"
    );
    // Two years and two days on, demo-member-b leaves too; the job runs.
    app.state
        .config
        .clock
        .advance(2 * 365 * 86_400 + 2 * 86_400);
    app.login_ok("demo-admin").await;
    app.post(
        &format!("/admin/membership/members/{b}/leave"),
        &[("choice", "leave"), ("note", "")],
    )
    .await
    .assert_status(303);
    let now = app.state.config.clock.now();
    let n = zhijia::membership::leave::run_retention(&mut app.conn(), now).unwrap();
    assert_eq!(n, 1);
    let mut conn = app.conn();
    let gone = zhijia::members::model::find(&mut conn, a).unwrap().unwrap();
    assert_eq!(
        (gone.name.as_str(), gone.phone.as_deref()),
        ("已注销会员", None)
    );
    assert!(gone.employee_no.starts_with("removed-"));
    let kept = zhijia::members::model::find(&mut conn, b).unwrap().unwrap();
    assert_eq!(kept.name, "李晓红", "left yesterday: kept");
    // The case stays, with its history, under the placeholder.
    let g = zhijia::grievances::model::find_by_ref(&mut conn, &case)
        .unwrap()
        .unwrap();
    assert_eq!(g.member_id, Some(a));
    let names: Vec<String> = zhijia::grievances::model::events(&mut conn, g.id, true)
        .unwrap()
        .into_iter()
        .map(|e| e.author_label)
        .collect();
    assert!(names.iter().all(|n| n != "王小明"), "{names:?}");
    drop(conn);
    assert_eq!(app.count("audit_log WHERE action = 'member.anonymise'"), 1);
    // Run again: nothing more to do.
    assert_eq!(
        zhijia::membership::leave::run_retention(&mut app.conn(), now).unwrap(),
        0
    );
}

/// The member asks for a transfer on their own page; a bad choice comes back with its message.
#[actix_web::test]
async fn a_member_asks_for_a_transfer_on_their_own_page() {
    let mut app = spawn_base().await;
    let to = builders::user(&mut app.conn(), "demo-cadre-b")
        .unit_id
        .to_string();
    app.login_ok("demo-member").await;
    app.post(
        "/me/membership/transfer",
        &[("to_unit", ""), ("reason", "调动")],
    )
    .await
    .assert_status(422)
    .assert_contains("请选择转入单位");
    app.post(
        "/me/membership/transfer",
        &[("to_unit", &to), ("reason", "调到项目一部")],
    )
    .await
    .assert_status(303);
    app.get("/me/membership")
        .await
        .assert_status(200)
        .assert_contains("转会中")
        .assert_contains("待转出单位同意");
    // A second request while one is open is refused.
    let r = app
        .post(
            "/me/membership/transfer",
            &[("to_unit", &to), ("reason", "再次申请")],
        )
        .await;
    r.assert_status(303);
    app.get("/me/membership")
        .await
        .assert_contains("不能发起转会");
    // The member withdraws it: a member again, the transfer cancelled.
    let (t, v) = {
        use diesel::prelude::*;
        use zhijia::db::schema::member_transfers as mt;
        let mut conn = app.conn();
        zhijia::on_backend!(&mut *conn, c => mt::table
            .select((mt::id, mt::version))
            .first::<(i32, i32)>(c))
        .unwrap()
    };
    app.post(
        &format!("/me/membership/transfer/{t}/cancel"),
        &[("version", &v.to_string())],
    )
    .await
    .assert_status(303);
    app.get("/me/membership")
        .await
        .assert_contains("转会申请已撤回")
        .assert_contains("已撤回");
    assert_eq!(
        builders::user(&mut app.conn(), "demo-member").membership,
        "member"
    );
    // Someone else's transfer cannot be withdrawn by them.
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.post(
        &format!("/me/membership/transfer/{t}/cancel"),
        &[("version", &(v + 1).to_string())],
    )
    .await
    .assert_status(404);
}

/// At an activity's entrance the cadre scans member cards: a signed-up member is checked in
/// (once), one who did not sign up is told so; the scanned link works as well as the code.
#[actix_web::test]
async fn a_member_card_checks_the_member_in_at_an_activity() {
    let mut app = spawn_base().await;
    let (activity, member, other) = app.with(|c, now| {
        let a = builders::activity(
            c,
            now,
            "第一工程公司工会",
            "职工趣味运动会",
            50,
            chrono::Duration::minutes(30),
        );
        builders::sign_up(c, now, "demo-member", a);
        (
            a,
            builders::user(c, "demo-member").id,
            builders::user(c, "demo-member-b").id,
        )
    });
    let now = app.state.config.clock.now();
    let key = app.state.config.secret_key.clone();
    let link = format!(
        "http://example.org/admin/card-check?code={}",
        zhijia::membership::card::code_for(&key, member, now)
    );
    app.login_ok("demo-chair").await;
    let a = activity.to_string();
    // A GET (a link someone was made to open) fills the form and checks nobody in.
    let r = app
        .get(&format!(
            "/admin/card-check?activity={activity}&code={}",
            zhijia::text::url_encode(&link)
        ))
        .await;
    r.assert_status(200).assert_contains("核验并签到");
    assert!(!r.body.contains("verdict"), "{}", r.body);
    assert_eq!(
        app.count("activity_signups WHERE checked_in_at IS NOT NULL"),
        0
    );
    app.post("/admin/card-check", &[("activity", &a), ("code", &link)])
        .await
        .assert_status(200)
        .assert_contains("活动签到：签到成功");
    app.post("/admin/card-check", &[("activity", &a), ("code", &link)])
        .await
        .assert_status(200)
        .assert_contains("已经签到过了");
    let theirs = zhijia::membership::card::code_for(&key, other, now);
    app.post("/admin/card-check", &[("activity", &a), ("code", &theirs)])
        .await
        .assert_status(200)
        .assert_contains("没有报名这个活动");
    assert_eq!(
        app.count("activity_signups WHERE checked_in_at IS NOT NULL"),
        1
    );
    app.logout().await;
    // Finance does not check cards.
    app.login_ok("demo-finance").await;
    app.get("/admin/card-check").await.assert_status(403);
}

/// The card photo is re-encoded (a small JPEG comes back, not the upload) and shown to its
/// owner only; a file that is not an image is refused.
#[actix_web::test]
async fn a_card_photo_is_re_encoded_and_shown_to_its_owner() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    // A PNG (lossless, large): what comes back is a small JPEG made from its pixels.
    let img = image::RgbImage::from_fn(900, 1200, |x, y| {
        let h = x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503);
        image::Rgb([(h >> 8) as u8, (h >> 16) as u8, (h >> 24) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    let original = out.into_inner();
    app.post_multipart_named("/me/card/photo", &[], &[("photo", "me.png", &original)])
        .await
        .assert_status(303);
    app.get("/me/card")
        .await
        .assert_status(200)
        .assert_contains("/me/card/photo?v=");
    let r = app.get("/me/card/photo").await;
    r.assert_status(200);
    assert_eq!(r.header("content-type"), "image/jpeg");
    let me = builders::user(&mut app.conn(), "demo-member").id;
    let stored = zhijia::membership::model::photo(&mut app.conn(), me)
        .unwrap()
        .unwrap();
    assert_eq!(
        image::guess_format(&stored).unwrap(),
        image::ImageFormat::Jpeg
    );
    let img = image::load_from_memory(&stored).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (360, 480),
        "re-encoded at card size"
    );
    app.post_multipart_named(
        "/me/card/photo",
        &[],
        &[("photo", "me.jpg", b"not an image")],
    )
    .await
    .assert_status(422);
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.get("/me/card/photo").await.assert_status(404);
}

/// Found by review: a cadre cannot put their chair or a fellow cadre into a transfer; whoever
/// reviewed an application does not approve it too; a returned application the applicant
/// never answers can still be rejected; re-enabling someone who left makes them a member again.
#[actix_web::test]
async fn transfers_and_approvals_keep_to_who_may_do_what() {
    let mut app = spawn_base().await;
    let (chair, fellow, to) = {
        let mut c = app.conn();
        (
            builders::user(&mut c, "demo-chair").id,
            builders::user(&mut c, "demo-cadre").id,
            builders::user(&mut c, "demo-cadre-b").unit_id,
        )
    };
    app.login_ok("demo-cadre-b").await;
    for target in [chair, fellow] {
        app.post(
            "/admin/membership/transfers/new",
            &[
                ("member", &target.to_string()),
                ("to_unit", &to.to_string()),
                ("reason", "调动"),
            ],
        )
        .await
        .assert_status(404);
    }
    assert_eq!(app.count("member_transfers"), 0);
    app.logout().await;

    // The administrator reviews an application; they may not approve it themselves.
    let unit = builders::user(&mut app.conn(), "demo-member").unit_id;
    app.post("/join", &pairs(&join_form(unit, "J0100", "13911110100")))
        .await
        .assert_status(200);
    let id = latest_application(&mut app.conn());
    let path = format!("/admin/membership/applications/{id}");
    app.login_ok("demo-admin").await;
    app.post(
        &path,
        &[("action", "review"), ("version", "0"), ("reason", "")],
    )
    .await
    .assert_status(303);
    let r = app
        .post(
            &path,
            &[("action", "approve"), ("version", "1"), ("reason", "")],
        )
        .await;
    r.assert_status(303);
    assert_eq!(app_state(&mut app.conn(), id).0, "reviewed");
    app.get(&path).await.assert_contains("须由不同的人办理");
    // A chair returns it; nobody answers; the branch may still reject it.
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.post(
        &path,
        &[
            ("action", "return"),
            ("version", "1"),
            ("reason", "请补充岗位"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-cadre").await;
    app.post(
        &path,
        &[
            ("action", "reject"),
            ("version", "2"),
            ("reason", "逾期未补充"),
        ],
    )
    .await
    .assert_status(303);
    assert_eq!(app_state(&mut app.conn(), id).0, "rejected");
    app.logout().await;

    // Leaving, then re-enabled: a member again, off the retention list.
    let m = builders::user(&mut app.conn(), "demo-member-b").id;
    app.login_ok("demo-admin").await;
    app.post(
        &format!("/admin/membership/members/{m}/leave"),
        &[("choice", "leave"), ("note", "")],
    )
    .await
    .assert_status(303);
    app.post(&format!("/admin/members/{m}/enable"), &[])
        .await
        .assert_status(303);
    assert_eq!(
        builders::user(&mut app.conn(), "demo-member-b").membership,
        "member"
    );
}

fn application_ids(conn: &mut zhijia::db::DbConnection) -> Vec<i32> {
    use diesel::prelude::*;
    use zhijia::db::schema::membership_applications as a;
    zhijia::on_backend!(conn, c => a::table.select(a::id).order(a::id).load::<i32>(c)).unwrap()
}

/// Found in issue 30: /join answers alike whether or not the employee number or phone is
/// known — a member's number, a member's phone, a live application's number and fresh ones
/// all get the same page and a code (five a day from one address). The reviewer sees the
/// repetition and rejects it; the applicant reads that with their code.
#[actix_web::test]
async fn join_answers_alike_whether_or_not_the_number_or_phone_is_known() {
    let mut app = spawn_base().await;
    let unit = builders::user(&mut app.conn(), "demo-member").unit_id;
    let tries = [
        ("J0300", "13911113000"),       // nobody knows these
        ("demo-member", "13911113001"), // a member's employee number
        ("J0302", "13800000001"),       // a member's phone
        ("J0303", "13911113003"),
        ("J0303", "13911113004"), // the number of a live application
    ];
    let (mut pages, mut codes) = (Vec::new(), Vec::new());
    for (no, phone) in tries {
        let r = app.post("/join", &pairs(&join_form(unit, no, phone))).await;
        r.assert_status(200).assert_contains("入会申请已提交");
        let code = secret_of(&r.body);
        pages.push(r.body.replace(phone, "PHONE").replace(&code, "CODE"));
        codes.push(code);
    }
    assert!(pages.iter().all(|p| *p == pages[0]), "one answer for all");
    app.post("/join", &pairs(&join_form(unit, "J0306", "13911113006")))
        .await
        .assert_status(429);
    // Until it is reviewed, a repeated application reads like any other.
    let status = [("phone", "13911113001"), ("code", codes[1].as_str())];
    app.post("/join/status", &status)
        .await
        .assert_status(200)
        .assert_contains("待分会初审");
    let ids = application_ids(&mut app.conn());
    assert_eq!(ids.len(), 5);
    app.login_ok("demo-cadre").await;
    let page = |id: i32| format!("/admin/membership/applications/{id}");
    app.get(&page(ids[0])).await.assert_ok_without("重复申请");
    for id in [ids[1], ids[2], ids[4]] {
        app.get(&page(id)).await.assert_contains("重复申请");
    }
    app.post(
        &page(ids[1]),
        &[
            ("action", "reject"),
            ("version", "0"),
            ("reason", "重复申请，请联系所在工会"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.post("/join/status", &status)
        .await
        .assert_status(200)
        .assert_contains("未通过")
        .assert_contains("重复申请，请联系所在工会");
}

/// Routes with an id, asked for by someone it does not concern: a transfer between two
/// branches of the first company is 404 to the second company's cadre and to a plain member;
/// another branch's member cannot be sent into retirement by a cadre.
#[actix_web::test]
async fn ids_of_others_are_not_found() {
    let mut app = spawn_base().await;
    let (member, to) = {
        let mut c = app.conn();
        (
            builders::user(&mut c, "demo-member").id,
            builders::user(&mut c, "demo-cadre-b").unit_id,
        )
    };
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
    let path = r.location().to_string();
    app.logout().await;
    app.login_ok("road-cadre").await;
    app.get(&path).await.assert_status(404);
    app.post(
        &path,
        &[("action", "release"), ("version", "0"), ("note", "")],
    )
    .await
    .assert_status(404);
    let other = builders::user(&mut app.conn(), "demo-member-b").id;
    app.get(&format!("/admin/membership/members/{other}/leave"))
        .await
        .assert_status(404);
    app.post(
        &format!("/admin/membership/members/{other}/leave"),
        &[("choice", "leave"), ("note", "")],
    )
    .await
    .assert_status(404);
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.get(&path).await.assert_status(403);
    assert_eq!(
        builders::user(&mut app.conn(), "demo-member-b").membership,
        "member"
    );
}

/// Issue 30, finding 3's second list (red before: the newest 500 transfers site-wide were
/// taken, then filtered by scope): 520 open transfers in another company leave a branch cadre's
/// own open transfer on their list.
#[actix_web::test]
async fn transfers_elsewhere_never_push_a_cadres_own_off_the_list() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let to = builders::unit_id(&mut app.conn(), "项目一部分会").to_string();
    app.post(
        "/me/membership/transfer",
        &[("to_unit", &to), ("reason", "调到项目一部")],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.with(|c, now| {
        let road = zhijia::org::model::find_by_name(c, "路桥分会").unwrap()[0].id;
        let city = zhijia::org::model::find_by_name(c, "市政分会").unwrap()[0].id;
        let starter = builders::user(c, "road-cadre").id;
        for id in builders::add_members(c, now, road, "FLOODT", 520) {
            zhijia::membership::model::insert_transfer(c, id, road, city, "调动", starter, now)
                .unwrap();
        }
    });
    let mine: i32 = app.with(|c, _| {
        use diesel::prelude::*;
        use zhijia::db::schema::member_transfers as t;
        let me = builders::user(c, "demo-member").id;
        zhijia::on_backend!(c, c => t::table.filter(t::member_id.eq(me)).select(t::id).first(c))
            .unwrap()
    });
    app.login_ok("demo-cadre").await;
    let page = app.get("/admin/membership").await;
    page.assert_status(200);
    assert!(
        page.body
            .contains(&format!("/admin/membership/transfers/{mine}\"")),
        "the cadre's own transfer is listed"
    );
}

/// The arrears list (an indexed filter on each member's newest paid month) names exactly the
/// members a direct computation from the dues rows names, for every staff scope and window and
/// page by page; a drifted month is found by `zhijia check` and repaired.
#[actix_web::test]
async fn the_arrears_list_equals_a_direct_computation_from_the_dues_rows() {
    use diesel::prelude::*;
    use zhijia::db::schema::{member_dues as d, members as m, org_units as u};
    use zhijia::membership::dues::{arrears, months_back};
    let mut app = spawn_base().await;
    let now = app.state.config.clock.now();
    let extra = app.members_with_sessions("项目一部分会", "due-", 70);
    {
        let mut conn = app.conn();
        for (i, s) in extra.iter().enumerate() {
            if i % 7 == 0 {
                continue;
            }
            let back = u32::try_from(i % 5).unwrap() + 1;
            let put = |c: &mut _, month: &str| {
                zhijia::membership::model::put_dues(c, s.member_id, month, 1500, now).unwrap()
            };
            put(&mut conn, &months_back(now, back));
            // An older month afterwards never moves the newest back.
            put(&mut conn, &months_back(now, 12));
        }
    }
    assert!(zhijia::invariants::check(&mut app.conn())
        .unwrap()
        .is_empty());
    let mut conn = app.conn();
    let people: Vec<(i32, String, bool, String)> = m::table
        .inner_join(u::table)
        .select((m::id, u::path, m::disabled, m::status))
        .load(&mut conn)
        .unwrap();
    let paid: Vec<(i32, String)> = d::table
        .select((d::member_id, d::month))
        .load(&mut conn)
        .unwrap();
    let mut sizes = Vec::new();
    for who in ["demo-admin", "demo-chair", "demo-cadre", "demo-cadre-b"] {
        let user = builders::user(&mut conn, who);
        let prefixes = zhijia::org::scope::manage_prefixes(&user);
        for months in [1u32, 3, 6] {
            let since = months_back(now, months);
            let mut expected: Vec<i32> = people
                .iter()
                .filter(|(_, path, disabled, status)| {
                    !disabled
                        && (status == "member" || status == "retired")
                        && prefixes
                            .as_ref()
                            .is_none_or(|ps| ps.iter().any(|p| path.starts_with(p.as_str())))
                })
                .filter(|(id, ..)| !paid.iter().any(|(m, month)| m == id && *month >= since))
                .map(|(id, ..)| *id)
                .collect();
            expected.sort_unstable();
            let (total, rows) = arrears(&mut conn, &user, months, now, (0, 0)).unwrap();
            let mut got: Vec<i32> = rows.iter().map(|r| r.member_id).collect();
            got.sort_unstable();
            assert_eq!(got, expected, "{who}, {months} months");
            assert_eq!(total, i64::try_from(expected.len()).unwrap());
            sizes.push(expected.len());
        }
    }
    assert!(
        sizes.iter().any(|n| *n > 50),
        "a list longer than a page: {sizes:?}"
    );
    // Through the pages: every member of the chair's list once, 50 a page.
    let chair = builders::user(&mut conn, "demo-chair");
    let (total, all) = arrears(&mut conn, &chair, 3, now, (0, 0)).unwrap();
    drop(conn);
    app.login_ok("demo-chair").await;
    let mut seen = Vec::new();
    let pages = (total + 49) / 50;
    for page in 1..=pages {
        let r = app
            .get(&format!("/admin/membership/dues?months=3&page={page}"))
            .await;
        r.assert_status(200)
            .assert_contains(&format!("共 {total} 人"));
        let (_, list) = r.body.split_once("连续 3 个月未交会费").unwrap();
        for part in list.split("href=\"/admin/members/").skip(1) {
            seen.push(part.split('"').next().unwrap().parse::<i32>().unwrap());
        }
    }
    let mut want: Vec<i32> = all.iter().map(|r| r.member_id).collect();
    want.sort_unstable();
    seen.sort_unstable();
    assert_eq!(seen, want);
    // A month drifted by hand: check finds it, repair puts it back.
    let victim = extra[1].member_id;
    diesel::update(m::table.find(victim))
        .set(m::last_dues_month.eq(None::<String>))
        .execute(&mut app.conn())
        .unwrap();
    let found = zhijia::invariants::check(&mut app.conn()).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].what, found[0].id), ("member dues", victim));
    let actor = zhijia::audit::Actor::system("check", now);
    zhijia::invariants::repair(&mut app.conn(), &actor).unwrap();
    assert!(zhijia::invariants::check(&mut app.conn())
        .unwrap()
        .is_empty());
}

/// The dashboard's membership figures (counts per unit in SQL, summed over the scope) equal a
/// direct computation over every member row, for each staff scope: members, retired,
/// transferring, joins per month, last month's payers.
#[actix_web::test]
async fn the_membership_figures_equal_a_direct_computation_over_the_rows() {
    use diesel::prelude::*;
    use zhijia::db::schema::{member_dues as d, members as m, org_units as u};
    use zhijia::membership::dues::months_back;
    let app = spawn_base().await;
    let now = app.state.config.clock.now();
    let extra = app.members_with_sessions("路桥分会", "fig-", 12);
    let last = months_back(now, 1);
    {
        let mut conn = app.conn();
        for (i, s) in extra.iter().enumerate() {
            if i % 3 != 0 {
                zhijia::membership::model::put_dues(&mut conn, s.member_id, &last, 1500, now)
                    .unwrap();
            }
        }
        diesel::update(m::table.find(extra[1].member_id))
            .set(m::status.eq("retired"))
            .execute(&mut conn)
            .unwrap();
        diesel::update(m::table.find(extra[2].member_id))
            .set(m::status.eq("transferring"))
            .execute(&mut conn)
            .unwrap();
    }
    let mut conn = app.conn();
    let rows: Vec<(
        i32,
        String,
        String,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
    )> = m::table
        .inner_join(u::table)
        .select((m::id, u::path, m::status, m::created_at, m::anonymised_at))
        .load(&mut conn)
        .unwrap();
    let payers: Vec<i32> = d::table
        .filter(d::month.eq(&last))
        .select(d::member_id)
        .load(&mut conn)
        .unwrap();
    for who in ["demo-admin", "demo-chair", "demo-cadre", "demo-cadre-b"] {
        let user = builders::user(&mut conn, who);
        let prefixes = zhijia::org::scope::manage_prefixes(&user);
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r.4.is_none())
            .filter(|r| {
                prefixes
                    .as_ref()
                    .is_none_or(|ps| ps.iter().any(|p| r.1.starts_with(p.as_str())))
            })
            .collect();
        let count = |s: &str| mine.iter().filter(|r| r.2 == s).count() as i64;
        let fig = zhijia::membership::stats::compute(&mut conn, &user, now).unwrap();
        assert_eq!(
            (fig.members, fig.retired, fig.transferring),
            (count("member"), count("retired"), count("transferring")),
            "{who}"
        );
        let paid = mine
            .iter()
            .filter(|r| r.2 == "member" && payers.contains(&r.0))
            .count() as i64;
        assert_eq!(
            (fig.dues_paid, fig.dues_of),
            (paid, count("member")),
            "{who}"
        );
        for month in &fig.months {
            let joins = mine
                .iter()
                .filter(|r| zhijia::time::beijing(&r.3, "%Y-%m") == month.month)
                .count() as i64;
            assert_eq!(month.joins, joins, "{who} {}", month.month);
        }
        assert!(fig.months.iter().map(|x| x.joins).sum::<i64>() > 0, "{who}");
    }
}
