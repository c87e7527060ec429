//! 维权申诉: the case loop, anonymity, receipts, deadlines and escalation, isolation, concurrency.

use actix_web::test::TestRequest;
use zhijia::grievances::model;

use crate::helpers::*;

/// A tiny valid PNG (1×1).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

fn case_fields<'a>(token: &'a str, title: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("submit_token", token),
        ("category", "pay"),
        ("title", title),
        (
            "description",
            "三月份加班费至今未发放，车间主任说要等年底统一结算。",
        ),
        ("desired_outcome", "按劳动法足额发放加班费。"),
    ]
}

/// File a named case as the logged-in member; returns its public reference.
async fn file_named<S, B>(app: &mut TestApp<S>, title: &str) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let token = zhijia::auth::random_token(16);
    let r = app
        .post_multipart(
            "/grievances/new",
            &case_fields(&token, title),
            &[("工资条.png", PNG)],
        )
        .await;
    r.assert_status(303);
    let case_ref = r.location().trim_start_matches("/grievances/").to_string();
    assert!(
        regex_lite::Regex::new(r"^WQ-20\d\d-[0-9A-Z]{5}$")
            .unwrap()
            .is_match(&case_ref),
        "{case_ref}"
    );
    case_ref
}

fn case(app_conn: &mut zhijia::db::PooledConn, case_ref: &str) -> model::Grievance {
    model::find_by_ref(app_conn, case_ref).unwrap().unwrap()
}

async fn act<S, B>(app: &mut TestApp<S>, id: &str, action: &str, text: &str) -> Resp
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let version = case(&mut app.conn(), id).version.to_string();
    app.post(
        &format!("/admin/grievances/{id}/act"),
        &[("action", action), ("version", &version), ("text", text)],
    )
    .await
}

#[actix_web::test]
async fn the_whole_named_case_loop_from_filing_to_rating() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let id = file_named(&mut app, "加班费未发放").await;
    app.get(&format!("/grievances/{id}"))
        .await
        .assert_status(200)
        .assert_contains("申诉已提交")
        .assert_contains("工资条.jpg");
    let g = case(&mut app.conn(), &id);
    assert_eq!(g.state, model::State::Submitted);
    assert_eq!(
        g.handler_id,
        Some(app.member_id("demo-cadre")),
        "routed to the member's grid cadre"
    );
    assert!(g.due_at.is_some());
    app.logout().await;

    app.login_ok("demo-cadre").await;
    app.get("/").await.assert_contains("class=\"count\"");
    app.get("/admin/inbox")
        .await
        .assert_status(200)
        .assert_contains("加班费未发放");
    let page = app.get(&format!("/admin/grievances/{id}")).await;
    page.assert_status(200)
        .assert_contains("王小明")
        .assert_contains("name=\"action\" value=\"accept\"")
        .assert_contains("name=\"action\" value=\"escalate\"");
    // Only the steps the case's state allows are offered.
    assert!(
        !page.body.contains("value=\"answer\""),
        "answer before accept offered"
    );
    assert_eq!(
        app.audit_count("grievance.view"),
        1,
        "opening a named case is audit-logged"
    );
    // The cadre can download the attachment, with download headers.
    // Files are addressed by their position in the case.
    assert_eq!(
        model::attachments_of(&mut app.conn(), case(&mut app.conn(), &id).id)
            .unwrap()
            .len(),
        1
    );
    let aid = 1;
    let f = app
        .get(&format!("/admin/grievances/{id}/attachments/{aid}"))
        .await;
    f.assert_status(200);
    assert!(f.header("content-disposition").starts_with("attachment"));
    assert_eq!(
        f.header("content-type"),
        "image/jpeg",
        "photos are re-encoded"
    );
    act(&mut app, &id, "accept", "").await.assert_status(303);
    let page = app.get(&format!("/admin/grievances/{id}")).await;
    page.assert_contains("value=\"answer\"");
    assert!(
        !page.body.contains("value=\"accept\""),
        "accept offered twice"
    );
    act(&mut app, &id, "note", "内部：已联系车间主任核实")
        .await
        .assert_status(303);
    act(&mut app, &id, "reply", "已联系人力资源部核实考勤记录")
        .await
        .assert_status(303);
    assert_eq!(case(&mut app.conn(), &id).state, model::State::InProgress);
    act(&mut app, &id, "answer", "")
        .await
        .assert_status(422)
        .assert_contains("请填写处理结果");
    act(&mut app, &id, "answer", "经核实，加班费已于本月补发。")
        .await
        .assert_status(303);
    assert_eq!(case(&mut app.conn(), &id).state, model::State::Answered);
    app.logout().await;

    app.login_ok("demo-member").await;
    let page = app.get(&format!("/grievances/{id}")).await;
    page.assert_contains("经核实，加班费已于本月补发")
        .assert_contains("已联系人力资源部核实考勤记录");
    assert!(
        !page.body.contains("内部：已联系车间主任核实"),
        "internal notes never reach the member"
    );
    let notes = app.get("/notifications").await;
    notes.assert_contains("已受理").assert_contains("已答复");
    app.post(
        &format!("/grievances/{id}/act"),
        &[("action", "rate"), ("rating", "5"), ("text", "处理及时")],
    )
    .await
    .assert_status(303);
    let g = case(&mut app.conn(), &id);
    assert_eq!((g.state.as_str(), g.rating), ("rated", Some(5)));
    for a in [
        "grievance.submit",
        "grievance.accept",
        "grievance.reply",
        "grievance.answer",
        "grievance.rate",
    ] {
        assert_eq!(audit_for(&mut app.conn(), a, &id), 1, "{a}");
    }
}

/// Audit rows of one action on one case.
fn audit_for(conn: &mut zhijia::db::PooledConn, action: &str, id: &str) -> i64 {
    use diesel::prelude::*;
    use zhijia::db::schema::audit_log;
    audit_log::table
        .filter(audit_log::action.eq(action))
        .filter(audit_log::object_type.eq("grievance"))
        .filter(audit_log::object_id.eq(id))
        .count()
        .get_result(conn)
        .unwrap()
}

#[actix_web::test]
async fn a_cadre_rejects_with_a_reason_the_member_can_read() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let id = file_named(&mut app, "食堂饭菜太贵").await;
    app.logout().await;
    app.login_ok("demo-cadre").await;
    act(&mut app, &id, "reject", "  ")
        .await
        .assert_status(422)
        .assert_contains("请填写不予受理的理由");
    assert_eq!(case(&mut app.conn(), &id).state, model::State::Submitted);
    act(
        &mut app,
        &id,
        "reject",
        "食堂定价不属于劳动权益争议，已转交后勤部门",
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get(&format!("/grievances/{id}"))
        .await
        .assert_contains("不予受理")
        .assert_contains("已转交后勤部门");
    app.post(
        &format!("/grievances/{id}/act"),
        &[("action", "reply"), ("text", "为什么")],
    )
    .await
    .assert_status(422);
}

#[actix_web::test]
async fn an_overdue_case_escalates_to_the_parent_union_by_the_job() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let id = file_named(&mut app, "安全帽破损无人更换").await;
    let now = app.state.config.clock.now();
    // Not yet due: the job leaves it alone.
    zhijia::grievances::service::run_deadlines(&mut app.conn(), now).unwrap();
    assert_eq!(case(&mut app.conn(), &id).state, model::State::Submitted);
    app.state.config.clock.advance(5 * 24 * 3600);
    let later = app.state.config.clock.now();
    let (escalated, _) =
        zhijia::grievances::service::run_deadlines(&mut app.conn(), later).unwrap();
    assert!(escalated >= 1);
    // Running again (another instance) does nothing more.
    assert_eq!(
        zhijia::grievances::service::run_deadlines(&mut app.conn(), later).unwrap(),
        (0, 0)
    );
    let g = case(&mut app.conn(), &id);
    assert_eq!(g.state, model::State::Escalated);
    assert!(g.overdue);
    let sub1 = zhijia::org::model::find_by_name(&mut app.conn(), "第一工程公司工会").unwrap()[0].id;
    assert_eq!(g.unit_id, sub1);
    app.cookies.clear(); // the session idled out while the case waited
    app.login_ok("demo-chair").await;
    app.get("/notifications")
        .await
        .assert_contains("转办的维权申诉");
    let inbox = app.get("/admin/inbox").await;
    inbox
        .assert_contains("安全帽破损无人更换")
        .assert_contains("已超期");
    app.logout().await;
    // The branch cadre no longer holds it.
    app.login_ok("demo-cadre").await;
    app.get(&format!("/admin/grievances/{id}"))
        .await
        .assert_status(404);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get(&format!("/grievances/{id}"))
        .await
        .assert_contains("超过办理时限");
}

#[actix_web::test]
async fn other_members_and_unrelated_cadres_get_404() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let id = file_named(&mut app, "排班不公").await;
    // Files are addressed by their position in the case.
    assert_eq!(
        model::attachments_of(&mut app.conn(), case(&mut app.conn(), &id).id)
            .unwrap()
            .len(),
        1
    );
    let aid = 1;
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.get(&format!("/grievances/{id}"))
        .await
        .assert_status(404);
    app.get(&format!("/grievances/{id}/attachments/{aid}"))
        .await
        .assert_status(404);
    app.post(
        &format!("/grievances/{id}/act"),
        &[("action", "reply"), ("text", "x")],
    )
    .await
    .assert_status(404);
    app.logout().await;
    app.login_ok("demo-cadre-b").await;
    app.get(&format!("/admin/grievances/{id}"))
        .await
        .assert_status(404);
    app.get(&format!("/admin/grievances/{id}/attachments/{aid}"))
        .await
        .assert_status(404);
    let v = case(&mut app.conn(), &id).version.to_string();
    app.post(
        &format!("/admin/grievances/{id}/act"),
        &[("action", "accept"), ("version", &v)],
    )
    .await
    .assert_status(404);
    app.get("/admin/grievances")
        .await
        .assert_ok_without("排班不公");
    assert_eq!(case(&mut app.conn(), &id).state, model::State::Submitted);
}

#[actix_web::test]
async fn the_same_form_submitted_three_times_makes_one_case() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let token = zhijia::auth::random_token(16);
    let before = app.count("grievances");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = app
            .post_multipart("/grievances/new", &case_fields(&token, "重复提交"), &[])
            .await;
        r.assert_status(303);
        ids.push(r.location().to_string());
    }
    assert_eq!(app.count("grievances"), before + 1);
    assert!(ids.iter().all(|l| l == &ids[0]));
    app.get(&ids[0]).await.assert_contains("没有重复创建");
    // Anonymous too: the second post shows no second receipt.
    let token = zhijia::auth::random_token(16);
    let mut f = case_fields(&token, "匿名重复");
    f.extend([("anonymous", "1"), ("unit_id", "1")]);
    app.post_multipart("/grievances/new", &f, &[])
        .await
        .assert_status(200)
        .assert_contains("回执码");
    app.post_multipart("/grievances/new", &f, &[])
        .await
        .assert_status(200)
        .assert_contains("已经提交过");
    assert_eq!(app.count("grievances"), before + 2);
}

#[actix_web::test]
async fn a_jpg_that_holds_html_is_refused_with_a_clear_message() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let token = zhijia::auth::random_token(16);
    let before = app.count("grievances");
    let r = app
        .post_multipart(
            "/grievances/new",
            &case_fields(&token, "附件测试"),
            &[("photo.jpg", b"<html><script>alert(1)</script></html>")],
        )
        .await;
    r.assert_status(422)
        .assert_contains("photo.jpg")
        .assert_contains("不是 JPEG、PNG 或 PDF");
    r.assert_contains("附件测试"); // the form comes back filled in
    let big = vec![0xFFu8; 10 * 1024 * 1024 + 10];
    let r = app
        .post_multipart(
            "/grievances/new",
            &case_fields(&token, "大附件"),
            &[("big.jpg", &big)],
        )
        .await;
    r.assert_status(422).assert_contains("超过 10 MB");
    assert_eq!(app.count("grievances"), before);
    let r = app
        .post_multipart("/grievances/new", &[("submit_token", &token)], &[])
        .await;
    r.assert_status(422)
        .assert_contains("请选择问题类别")
        .assert_contains("请填写标题");
}

/// Every row of every table, as text (for the anonymity scan).
pub(crate) fn dump_all(app_conn: &mut zhijia::db::PooledConn) -> Vec<String> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Col {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        r: String,
    }
    let sqlite = zhijia::db::is_sqlite(app_conn);
    let tables: Vec<Col> = if sqlite {
        diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .load(app_conn)
        .unwrap()
    } else {
        diesel::sql_query("SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = 'public'").load(app_conn).unwrap()
    };
    let mut out = Vec::new();
    // FTS5 index tables hold only search tokens of news articles.
    for t in tables.into_iter().filter(|t| !t.name.contains("_fts")) {
        let cols: Vec<Col> = if sqlite {
            diesel::sql_query(format!("SELECT name FROM pragma_table_info('{}')", t.name))
                .load(app_conn)
                .unwrap()
        } else {
            diesel::sql_query(format!(
                "SELECT column_name::text AS name FROM information_schema.columns WHERE table_name = '{}'",
                t.name
            ))
            .load(app_conn)
            .unwrap()
        };
        // quote() on SQLite so binary columns (images) come out as hex text.
        let expr = cols
            .iter()
            .map(|c| {
                if sqlite {
                    format!("'{}=' || quote({})", c.name, c.name)
                } else {
                    format!(
                        "'{}=' || COALESCE(CAST({} AS TEXT), 'NULL')",
                        c.name, c.name
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(" || ' ' || ");
        let rows: Vec<Row> = diesel::sql_query(format!("SELECT {expr} AS r FROM {}", t.name))
            .load(app_conn)
            .unwrap();
        out.extend(rows.into_iter().map(|r| format!("{}: {}", t.name, r.r)));
    }
    out
}

#[actix_web::test]
async fn an_anonymous_case_filed_while_logged_in_leaves_nothing_that_links_it_to_the_member() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let member = app.member_id("demo-member");
    let session_hash = zhijia::auth::hash_token(&app.cookies["zj_session"]);
    // Warm the session so the submission itself does not refresh its seen-at time.
    app.get("/grievances/new").await;
    let before: std::collections::HashSet<String> = dump_all(&mut app.conn()).into_iter().collect();
    let token = zhijia::auth::random_token(16);
    let csrf = app.csrf().await;
    let branch_b = zhijia::org::model::find_by_name(&mut app.conn(), "项目一部分会").unwrap()[0]
        .id
        .to_string();
    let mut f = case_fields(&token, "匿名反映：班组长辱骂员工");
    f.extend([
        ("anonymous", "1"),
        ("unit_id", branch_b.as_str()),
        ("csrf_token", csrf.as_str()),
    ]);
    let boundary = "XyZboundary";
    let mut body = String::new();
    for (k, v) in &f {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let r = app
        .send(
            TestRequest::post()
                .uri("/grievances/new")
                .insert_header((
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                ))
                .insert_header(("user-agent", "UA-FINGERPRINT-4711"))
                .insert_header(("x-forwarded-for", "203.0.113.77"))
                .set_payload(body),
        )
        .await;
    r.assert_status(200).assert_contains("回执码");
    let now = app.state.config.clock.now();
    let after = dump_all(&mut app.conn());
    let new_rows: Vec<&String> = after.iter().filter(|r| !before.contains(*r)).collect();
    assert!(!new_rows.is_empty());
    let exact_time = now.format("%H:%M:%S").to_string();
    let member_ref = format!("member_id={member} ");
    for row in &new_rows {
        for needle in [
            "UA-FINGERPRINT-4711",
            "203.0.113.77",
            "王小明",
            "demo-member",
            session_hash.as_str(),
            exact_time.as_str(),
            member_ref.as_str(),
            &format!("author_id={member} "),
            &format!("actor_id={member} "),
        ] {
            assert!(
                !row.contains(needle),
                "new row links the anonymous case to the member ({needle}):\n{row}"
            );
        }
    }
    let g = model::find(
        &mut app.conn(),
        new_rows
            .iter()
            .find(|r| r.starts_with("grievances:"))
            .map(|r| {
                r.split_whitespace()
                    .find_map(|p| p.strip_prefix("id="))
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .unwrap(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(g.member_id, None);
    assert!(g.anonymous);
    assert_eq!(g.created_at.time(), chrono::NaiveTime::MIN);
    // The member's own list does not show it either.
    app.get("/grievances")
        .await
        .assert_ok_without("班组长辱骂员工");

    // Its audit row is not in the log yet: written now, it would sit next to the member's own
    // rows (the login just before it) by id and by time.
    let audit = |app_conn: &mut zhijia::db::PooledConn| -> Vec<zhijia::audit::AuditEntry> {
        use diesel::prelude::*;
        use zhijia::db::schema::audit_log;
        audit_log::table
            .order(audit_log::id.asc())
            .select(zhijia::audit::AuditEntry::as_select())
            .load(app_conn)
            .unwrap()
    };
    let is_ours = |e: &zhijia::audit::AuditEntry| e.object_id.as_deref() == Some(&g.public_ref);
    assert!(!audit(&mut app.conn()).iter().any(is_ours));
    // Others go on using the portal; a day later the background job has moved the row.
    app.logout().await;
    app.login_ok("demo-cadre").await;
    app.logout().await;
    app.state.config.clock.advance(25 * 3600);
    let now = app.state.config.clock.now();
    assert!(zhijia::audit::release_deferred(&mut app.conn(), now).unwrap() >= 1);
    let log = audit(&mut app.conn());
    let pos = log.iter().position(is_ours).expect("released into the log");
    let row = &log[pos];
    assert_eq!(row.action, "grievance.submit");
    assert_eq!((row.actor_id, row.ip.as_deref()), (None, None));
    assert_eq!(
        row.unit_id,
        Some(g.unit_id),
        "the case's unit, not the member's"
    );
    assert_eq!(row.at.time(), chrono::NaiveTime::MIN, "date only");
    for neighbour in [pos.checked_sub(1), Some(pos + 1)].into_iter().flatten() {
        if let Some(n) = log.get(neighbour) {
            assert_ne!(
                n.actor_id,
                Some(member),
                "next to the member's own row: {n:?}"
            );
        }
    }
    let last_member_row = log
        .iter()
        .rposition(|e| e.actor_id == Some(member))
        .unwrap();
    assert!(
        pos > last_member_row + 1,
        "placed by release, not by submission"
    );
}

#[actix_web::test]
async fn the_receipt_opens_the_case_and_wrong_codes_look_like_unknown_ones() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let token = zhijia::auth::random_token(16);
    let mut f = case_fields(&token, "匿名：宿舍漏水");
    f.extend([("anonymous", "1"), ("unit_id", "1")]);
    let r = app
        .post_multipart("/grievances/new", &f, &[("照片.png", PNG)])
        .await;
    let marker = "<p class=\"secret receipt\">";
    let start = r.body.find(marker).unwrap() + marker.len();
    let receipt = r.body[start..start + 19].to_string();
    assert_eq!(receipt.len(), 19, "XXXX-XXXX-XXXX-XXXX");
    app.logout().await;

    // Anyone holding the code, not logged in, follows the case (code typed in lower case, no dashes).
    let typed = receipt.replace('-', "").to_lowercase();
    let page = app.post("/grievances/track", &[("receipt", &typed)]).await;
    page.assert_status(200)
        .assert_contains("匿名：宿舍漏水")
        .assert_contains("附件1.jpg");
    assert!(
        !page.body.contains("照片.png"),
        "anonymous attachments lose their names"
    );
    // The code travels only in hidden form fields (never in a link or a URL the browser keeps).
    let code = zhijia::grievances::service::normalize_receipt(&receipt);
    let in_fields = page
        .body
        .matches(&format!("name=\"receipt\" value=\"{code}\""))
        .count();
    assert!(in_fields >= 1, "the follow-up forms carry the code");
    assert_eq!(page.body.matches(code.as_str()).count(), in_fields);
    assert!(!page.body.contains(&format!("track/{code}")));
    // The attachment comes through the receipt too; not with a wrong code, and not another
    // case's file through this code.
    let aid = regex_lite::Regex::new(r#"name="attachment_id" value="(\d+)""#)
        .unwrap()
        .captures(&page.body)
        .expect("a download form per attachment")[1]
        .to_string();
    let f = app
        .post(
            "/grievances/track/attachment",
            &[("receipt", &typed), ("attachment_id", &aid)],
        )
        .await;
    f.assert_status(200);
    assert_eq!(f.header("content-type"), "image/jpeg");
    assert!(f.header("content-disposition").starts_with("attachment"));
    app.post(
        "/grievances/track/attachment",
        &[("receipt", "ZZZZ-ZZZZ-ZZZZ-ZZZZ"), ("attachment_id", &aid)],
    )
    .await
    .assert_status(404);
    // Another feature's file: a benefit request's.
    let other = app.with(|c, now| {
        benefit_catalogue(c, now);
        let req = benefit_request(c, now, "demo-member-b", "健身卡补贴", "100", false);
        attachment(c, now, ("benefit", req))
    });
    app.post(
        "/grievances/track/attachment",
        &[
            ("receipt", &typed),
            ("attachment_id", &(other + 100).to_string()),
        ],
    )
    .await
    .assert_status(404);
    let wrong = app
        .post("/grievances/track", &[("receipt", "ZZZZ-ZZZZ-ZZZZ-ZZZZ")])
        .await;
    let garbage = app.post("/grievances/track", &[("receipt", "hello")]).await;
    wrong.assert_status(422);
    garbage.assert_status(422);
    assert_eq!(
        wrong.body, garbage.body,
        "a wrong code and an unknown one must look the same"
    );
    // Reply and, after the answer, rate through the receipt.
    app.post(
        "/grievances/track/act",
        &[
            ("receipt", &typed),
            ("action", "reply"),
            ("text", "补充：三楼也漏"),
        ],
    )
    .await
    .assert_status(200)
    .assert_contains("补充：三楼也漏");
    let id = model::find_by_receipt(&mut app.conn(), "x").unwrap();
    assert!(id.is_none());
    app.login_ok("demo-admin").await;
    let list = app.get("/admin/grievances?state=submitted").await;
    list.assert_contains("匿名：宿舍漏水");
    let id = {
        use diesel::prelude::*;
        use zhijia::db::schema::grievances;
        grievances::table
            .filter(grievances::title.eq("匿名：宿舍漏水"))
            .select(grievances::public_ref)
            .first::<String>(&mut app.conn())
            .unwrap()
    };
    let page = app.get(&format!("/admin/grievances/{id}")).await;
    page.assert_status(200)
        .assert_contains("匿名：宿舍漏水")
        .assert_contains("匿名会员");
    assert!(!page.body.contains("王小明"));
    act(&mut app, &id, "accept", "").await.assert_status(303);
    act(&mut app, &id, "answer", "已安排维修")
        .await
        .assert_status(303);
    app.logout().await;
    app.post(
        "/grievances/track/act",
        &[
            ("receipt", &typed),
            ("action", "rate"),
            ("rating", "4"),
            ("text", ""),
        ],
    )
    .await
    .assert_status(200);
    assert_eq!(case(&mut app.conn(), &id).state, model::State::Rated);
}

#[actix_web::test]
async fn too_many_wrong_receipts_are_rate_limited() {
    let mut app = spawn_base().await;
    for _ in 0..10 {
        app.post("/grievances/track", &[("receipt", "AAAA-AAAA-AAAA-AAAA")])
            .await
            .assert_status(422);
    }
    app.post("/grievances/track", &[("receipt", "AAAA-AAAA-AAAA-AAAA")])
        .await
        .assert_status(429);
}

#[actix_web::test]
async fn a_member_may_reopen_once_within_seven_days() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let id = file_named(&mut app, "年假被拒").await;
    app.logout().await;
    app.login_ok("demo-cadre").await;
    act(&mut app, &id, "accept", "").await;
    act(&mut app, &id, "answer", "已与部门协调")
        .await
        .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.post(
        &format!("/grievances/{id}/act"),
        &[("action", "reopen"), ("text", "部门仍不批准")],
    )
    .await
    .assert_status(303);
    assert_eq!(case(&mut app.conn(), &id).state, model::State::InProgress);
    app.logout().await;
    app.login_ok("demo-cadre").await;
    act(&mut app, &id, "answer", "已批准年假")
        .await
        .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.post(
        &format!("/grievances/{id}/act"),
        &[("action", "reopen"), ("text", "再来一次")],
    )
    .await
    .assert_status(422)
    .assert_contains("只能申请重新办理一次");
    assert_eq!(case(&mut app.conn(), &id).state, model::State::Answered);

    // A second case: answered, then eight days pass; the reopen is refused.
    let late = file_named(&mut app, "加班调休未落实").await;
    app.logout().await;
    app.login_ok("demo-cadre").await;
    act(&mut app, &late, "accept", "").await.assert_status(303);
    act(&mut app, &late, "answer", "已安排调休")
        .await
        .assert_status(303);
    app.logout().await;
    app.state.config.clock.advance(8 * 24 * 3600);
    app.login_ok("demo-member").await;
    app.post(
        &format!("/grievances/{late}/act"),
        &[("action", "reopen"), ("text", "调休仍未落实")],
    )
    .await
    .assert_status(422)
    .assert_contains("答复超过 7 天后不能再申请重新办理");
    assert_eq!(case(&mut app.conn(), &late).state, model::State::Answered);
}

/// Two cadres open the same case page; the chair accepts first, then the grid cadre's reject,
/// sent with the version their page showed, is refused and changes nothing. (Real parallel
/// races: `eight_cadres_racing_over_200_cases_make_exactly_one_transition_each`.)
#[actix_web::test]
async fn a_cadre_acting_on_a_page_another_cadre_already_changed_gets_a_conflict() {
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let id = file_named(&mut app, "并发测试").await;
    app.logout().await;
    let version_on = |body: &str| -> String {
        regex_lite::Regex::new(r#"name="version" value="(\d+)""#)
            .unwrap()
            .captures(body)
            .expect("the action forms carry the version")[1]
            .to_string()
    };
    app.login_ok("demo-cadre").await;
    let cadre_saw = version_on(&app.get(&format!("/admin/grievances/{id}")).await.body);
    app.logout().await;
    app.login_ok("demo-chair").await;
    let chair_saw = version_on(&app.get(&format!("/admin/grievances/{id}")).await.body);
    assert_eq!(cadre_saw, chair_saw);
    app.post(
        &format!("/admin/grievances/{id}/act"),
        &[("action", "accept"), ("version", &chair_saw)],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-cadre").await;
    let r = app
        .post(
            &format!("/admin/grievances/{id}/act"),
            &[
                ("action", "reject"),
                ("version", &cadre_saw),
                ("text", "重复"),
            ],
        )
        .await;
    r.assert_status(409).assert_contains("已被他人处理");
    let g = case(&mut app.conn(), &id);
    assert_eq!(g.state, model::State::Accepted);
    let decisions = model::events(&mut app.conn(), g.id, true)
        .unwrap()
        .iter()
        .filter(|e| matches!(e.to_state.as_deref(), Some("accepted") | Some("rejected")))
        .count();
    assert_eq!(decisions, 1);
    // A change that keeps the state counts too: the chair writes an internal note while the
    // cadre has the page open; the cadre's answer from that older page is refused.
    let cadre_saw = version_on(&app.get(&format!("/admin/grievances/{id}")).await.body);
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.post(
        &format!("/admin/grievances/{id}/act"),
        &[
            ("action", "note"),
            ("version", &cadre_saw),
            ("text", "已电话联系食堂"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-cadre").await;
    app.post(
        &format!("/admin/grievances/{id}/act"),
        &[
            ("action", "answer"),
            ("version", &cadre_saw),
            ("text", "已答复"),
        ],
    )
    .await
    .assert_status(409)
    .assert_contains("已被他人处理");
    assert_eq!(case(&mut app.conn(), &id).state, model::State::Accepted);
}

#[actix_web::test]
async fn eight_cadres_racing_over_200_cases_make_exactly_one_transition_each() {
    let app = spawn_base().await;
    let now = app.state.config.clock.now();
    let member = zhijia::auth::user::load_user(&mut app.conn(), app.member_id("demo-member"), "")
        .unwrap()
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..200 {
        let form = zhijia::grievances::service::SubmitForm {
            category: "hours".into(),
            title: format!("并发 {i}"),
            description: "d".into(),
            desired_outcome: "o".into(),
            anonymous: false,
            unit_id: String::new(),
            submit_token: format!("race-token-{i:04}-xxxxxxxx"),
        };
        match zhijia::grievances::service::submit(&mut app.conn(), &member, &form, &[], now)
            .unwrap()
        {
            zhijia::grievances::service::Submitted::Named(id) => ids.push(id),
            other => panic!("{other:?}"),
        }
    }
    let cadres: Vec<_> = [
        "demo-cadre",
        "demo-chair",
        "demo-admin",
        "demo-cadre",
        "demo-chair",
        "demo-admin",
        "demo-cadre",
        "demo-chair",
    ]
    .iter()
    .map(|n| {
        zhijia::auth::user::load_user(&mut app.conn(), app.member_id(n), "")
            .unwrap()
            .unwrap()
    })
    .collect();
    let ok = std::sync::atomic::AtomicUsize::new(0);
    let conflict = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for (t, cadre) in cadres.iter().enumerate() {
            let (pool, ids, ok, conflict) = (app.state.pool.clone(), &ids, &ok, &conflict);
            s.spawn(move || {
                let mut conn = pool.get().unwrap();
                let actor = zhijia::audit::Actor::user(cadre, None, now);
                for (i, id) in ids.iter().enumerate() {
                    // Half the threads accept, half reject: each case must end up with one decision.
                    let action = if (i + t) % 2 == 0 {
                        zhijia::grievances::service::CadreAction::Accept
                    } else {
                        zhijia::grievances::service::CadreAction::Reject {
                            reason: "并发测试".into(),
                        }
                    };
                    match zhijia::grievances::service::cadre_act(
                        &mut conn, cadre, &actor, id, 1, action,
                    ) {
                        Ok(()) => ok.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                        Err(zhijia::error::AppError::Conflict(_)) => {
                            conflict.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                        }
                        Err(e) => panic!("unexpected error: {e}"),
                    };
                }
            });
        }
    });
    assert_eq!(ok.load(std::sync::atomic::Ordering::SeqCst), 200);
    assert_eq!(conflict.load(std::sync::atomic::Ordering::SeqCst), 1400);
    for id in ids {
        let decisions = model::events(&mut app.conn(), case(&mut app.conn(), &id).id, true)
            .unwrap()
            .iter()
            .filter(|e| matches!(e.to_state.as_deref(), Some("accepted") | Some("rejected")))
            .count();
        assert_eq!(decisions, 1, "case {id}");
    }
}

#[actix_web::test]
async fn admins_change_the_time_limits() {
    let mut app = spawn_base().await;
    app.login_ok("demo-admin").await;
    app.post(
        "/admin/grievances/limits",
        &[("accept_working_days", "3"), ("answer_days", "10")],
    )
    .await
    .assert_status(303);
    let l = zhijia::grievances::service::limits(&mut app.conn()).unwrap();
    assert_eq!((l.accept_working_days, l.answer_days), (3, 10));
    app.post(
        "/admin/grievances/limits",
        &[("accept_working_days", "0"), ("answer_days", "x")],
    )
    .await
    .assert_status(303);
    assert_eq!(
        zhijia::grievances::service::limits(&mut app.conn())
            .unwrap()
            .accept_working_days,
        3
    );
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.post(
        "/admin/grievances/limits",
        &[("accept_working_days", "9"), ("answer_days", "9")],
    )
    .await
    .assert_status(403);
}

#[test]
fn receipts_normalise_what_people_type() {
    use zhijia::grievances::service::{format_receipt, normalize_receipt};
    assert_eq!(normalize_receipt("abcd-efgh ijkl-mnop"), "ABCDEFGH1JK1MN0P");
    assert_eq!(format_receipt("ABCDEFGHJKMNPQRS"), "ABCD-EFGH-JKMN-PQRS");
    assert_eq!(
        zhijia::auth::random_token(10).len(),
        16,
        "80 bits = 16 base32 characters"
    );
}

#[test]
fn working_days_skip_weekends() {
    use chrono::NaiveDate;
    let fri = NaiveDate::from_ymd_opt(2026, 11, 27)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    let due = zhijia::workflow::calendar::Calendar::default().add_working_days(fri, 2);
    assert_eq!(due.date(), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
}

/// Beijing 10:00 on `day` as stored (UTC).
fn beijing_ten(day: &str) -> chrono::NaiveDateTime {
    zhijia::time::from_beijing(
        &chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap(),
    )
    .unwrap()
}

/// The calendar holds the 2026 National Day week (1–7 October off, Saturday 10 October a
/// make-up working day): a case filed on 30 September is not escalated during the holiday, and
/// one filed on Friday 9 October counts the make-up Saturday.
#[actix_web::test]
async fn time_limits_skip_the_holiday_week_and_count_the_make_up_saturday() {
    let mut app = spawn_base().await;
    app.with(national_day_2026);
    let to = |app: &TestApp<_>, day: &str| {
        let now = app.state.config.clock.now();
        app.state
            .config
            .clock
            .advance((beijing_ten(day) - now).num_seconds());
    };
    to(&app, "2026-09-30");
    app.login_ok("demo-member").await;
    let before_holiday = file_named(&mut app, "国庆前提交").await;
    let due = zhijia::time::beijing_date(&case(&mut app.conn(), &before_holiday).due_at.unwrap());
    assert_eq!(
        due.to_string(),
        "2026-10-09",
        "two working days: Thursday 8 and Friday 9"
    );
    // (The demo's own older cases fall due meanwhile; only this one is watched.)
    for day in ["2026-10-03", "2026-10-07", "2026-10-08"] {
        zhijia::grievances::service::run_deadlines(&mut app.conn(), beijing_ten(day)).unwrap();
        assert_eq!(
            case(&mut app.conn(), &before_holiday).state,
            model::State::Submitted,
            "{day}"
        );
    }
    to(&app, "2026-10-09");
    app.login_ok("demo-member").await;
    let before_make_up = file_named(&mut app, "调休前提交").await;
    let due = zhijia::time::beijing_date(&case(&mut app.conn(), &before_make_up).due_at.unwrap());
    assert_eq!(due.to_string(), "2026-10-12", "Saturday 10 and Monday 12");
    // After Friday 9 October 10:00 the first case is late and goes to the parent union.
    zhijia::grievances::service::run_deadlines(
        &mut app.conn(),
        beijing_ten("2026-10-09") + chrono::Duration::minutes(1),
    )
    .unwrap();
    assert_eq!(
        case(&mut app.conn(), &before_holiday).state,
        model::State::Escalated
    );
    assert_eq!(
        case(&mut app.conn(), &before_make_up).state,
        model::State::Submitted
    );
}

#[actix_web::test]
async fn admins_enter_holidays_on_the_calendar_page_and_cadres_cannot() {
    let mut app = spawn_base().await;
    app.with(national_day_2026);
    app.login_ok("demo-chair").await;
    app.get("/admin/settings/calendar").await.assert_status(403);
    app.post(
        "/admin/settings/calendar",
        &[("lines", "2027-02-08,休,春节")],
    )
    .await
    .assert_status(403);
    // Nor remove an entered day.
    app.post("/admin/settings/calendar/2026-10-01/delete", &[])
        .await
        .assert_status(403);
    assert_eq!(app.count("calendar_days WHERE day = '2026-10-01'"), 1);
    app.logout().await;
    app.login_ok("demo-admin").await;
    // Each entered day with its weekday and kind: 1 October 2026 (a Thursday) off, Saturday
    // 10 October worked.
    let page = app.get("/admin/settings/calendar").await;
    page.assert_status(200);
    let row = |day: &str| -> String {
        let cell = format!("class=\"nowrap\">{day}</td>");
        let at = page
            .body
            .find(&cell)
            .unwrap_or_else(|| panic!("{day} is listed"));
        let end = page.body[at..].find("</tr>").unwrap() + at;
        page.body[at..end].to_string()
    };
    let oct1 = row("2026-10-01");
    assert!(oct1.contains("<td data-label=\"星期\">周四</td>"), "{oct1}");
    assert!(oct1.contains("badge-off\">放假</span>"), "{oct1}");
    let oct10 = row("2026-10-10");
    assert!(
        oct10.contains("<td data-label=\"星期\">周六</td>"),
        "{oct10}"
    );
    assert!(oct10.contains("\"badge\">调休上班</span>"), "{oct10}");
    app.post(
        "/admin/settings/calendar",
        &[("lines", "2027-02-08,休,春节\n2027-13-01,休\n2027-02-20,玩")],
    )
    .await
    .assert_status(422)
    .assert_contains("第 2 行")
    .assert_contains("第 3 行")
    .assert_contains("2027-02-08,休,春节");
    assert_eq!(app.count("calendar_days WHERE day >= '2027-01-01'"), 0);
    let r = app
        .post(
            "/admin/settings/calendar",
            &[(
                "lines",
                "日期\t类型\n2027-02-08\t休\t春节\n2027-02-20\t班\t春节调休",
            )],
        )
        .await;
    r.assert_status(303);
    app.get(r.location()).await.assert_contains("已登记 2 天");
    assert_eq!(app.count("calendar_days WHERE day >= '2027-01-01'"), 2);
    assert_eq!(
        app.audit_count("settings.calendar"),
        2,
        "the demo seed and this one"
    );
    app.post("/admin/settings/calendar/2027-02-20/delete", &[])
        .await
        .assert_status(303);
    assert_eq!(app.count("calendar_days WHERE day >= '2027-01-01'"), 1);
    app.post("/admin/settings/calendar/2027-02-20/delete", &[])
        .await
        .assert_status(404);
}

/// A small JPEG whose EXIF names a device and carries a GPS block (N latitude).
fn jpeg_with_gps() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(16, 12, image::Rgb([200, 30, 40]));
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(&img)
        .unwrap();
    // TIFF (big-endian): IFD0 with Make and a GPS IFD pointer, then the GPS IFD, then Make's text.
    let make = b"PHONE-MAKER-4711\0";
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    let gps_ifd = 8 + 2 + 2 * 12 + 4;
    let make_at = gps_ifd + 2 + 12 + 4;
    tiff.extend([0, 2]);
    tiff.extend([0x01, 0x0F, 0, 2]);
    tiff.extend((make.len() as u32).to_be_bytes());
    tiff.extend((make_at as u32).to_be_bytes());
    tiff.extend([0x88, 0x25, 0, 4, 0, 0, 0, 1]);
    tiff.extend((gps_ifd as u32).to_be_bytes());
    tiff.extend([0, 0, 0, 0]);
    tiff.extend([0, 1, 0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    tiff.extend([0, 0, 0, 0]);
    tiff.extend(make);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(&tiff);
    let mut out = plain[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(&app1);
    out.extend(&plain[2..]);
    out
}

/// A one-page PDF whose information dictionary names its author and whose catalog has XMP.
fn pdf_with_author() -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let content = doc.add_object(Stream::new(dictionary! {}, b"BT ET".to_vec()));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content,
        "MediaBox" => vec![0.into(), 0.into(), 200.into(), 200.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1,
        }),
    );
    let xmp = doc.add_object(Stream::new(
        dictionary! { "Type" => "Metadata", "Subtype" => "XML" },
        b"<x:xmpmeta>XMP-SECRET-CREATOR</x:xmpmeta>".to_vec(),
    ));
    let catalog = doc.add_object(dictionary! {
        "Type" => "Catalog", "Pages" => pages_id, "Metadata" => xmp,
    });
    let info = doc.add_object(dictionary! {
        "Author" => Object::string_literal("WANG-XIAOMING-AUTHOR"),
        "Creator" => Object::string_literal("Office on PC-OF-WANG"),
    });
    let annot = doc.add_object(dictionary! {
        "Type" => "Annot", "Subtype" => "Text",
        "Rect" => vec![0.into(), 0.into(), 10.into(), 10.into()],
        "T" => Object::string_literal("ANNOT-BY-WANG"),
        "Contents" => Object::string_literal("note"),
    });
    if let Ok(Object::Dictionary(p)) = doc.get_object_mut(page) {
        p.set("Annots", vec![annot.into()]);
    }
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info);
    doc.trailer.set(
        "ID",
        vec![
            Object::string_literal("MACHINE-ID-4711"),
            Object::string_literal("MACHINE-ID-4711"),
        ],
    );
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[actix_web::test]
async fn anonymous_attachments_carry_no_metadata_and_no_names() {
    let mut app = spawn_base().await;
    let (jpg, pdf) = (jpeg_with_gps(), pdf_with_author());
    assert!(contains(&jpg, b"PHONE-MAKER-4711") && contains(&pdf, b"WANG-XIAOMING-AUTHOR"));
    assert!(contains(&pdf, b"MACHINE-ID-4711") && contains(&pdf, b"ANNOT-BY-WANG"));
    app.login_ok("demo-member").await;
    let token = zhijia::auth::random_token(16);
    let mut f = case_fields(&token, "匿名：车间噪声超标");
    f.extend([("anonymous", "1"), ("unit_id", "1")]);
    app.post_multipart(
        "/grievances/new",
        &f,
        &[
            ("王小明_IMG_20261127.jpg", jpg.as_slice()),
            ("王小明的情况说明.pdf", pdf.as_slice()),
        ],
    )
    .await
    .assert_status(200)
    .assert_contains("回执码");
    // A PDF whose properties cannot be removed is refused, with the form filled in again.
    let token2 = zhijia::auth::random_token(16);
    let mut f2 = case_fields(&token2, "匿名：坏的 PDF");
    f2.extend([("anonymous", "1"), ("unit_id", "1")]);
    let before = app.count("grievances");
    app.post_multipart("/grievances/new", &f2, &[("x.pdf", b"%PDF-1.4 not really")])
        .await
        .assert_status(422)
        .assert_contains("无法清除")
        .assert_contains("匿名：坏的 PDF");
    assert_eq!(app.count("grievances"), before);
    // A named case keeps its file name, but not the photo's location.
    let named = file_named(&mut app, "named with photo").await;
    let token3 = zhijia::auth::random_token(16);
    app.post_multipart(
        "/grievances/new",
        &case_fields(&token3, "有定位的照片"),
        &[("现场.jpg", jpg.as_slice())],
    )
    .await
    .assert_status(303);
    app.logout().await;

    app.login_ok("demo-admin").await;
    let anon = {
        use diesel::prelude::*;
        use zhijia::db::schema::grievances;
        grievances::table
            .filter(grievances::title.eq("匿名：车间噪声超标"))
            .select(grievances::public_ref)
            .first::<String>(&mut app.conn())
            .unwrap()
    };
    let page = app.get(&format!("/admin/grievances/{anon}")).await;
    page.assert_status(200)
        .assert_contains("附件1.jpg")
        .assert_contains("附件2.pdf");
    assert!(!page.body.contains("王小明_IMG") && !page.body.contains("情况说明"));
    let files = model::attachments_of(&mut app.conn(), case(&mut app.conn(), &anon).id).unwrap();
    assert_eq!(files.len(), 2);
    let photo = app
        .get(&format!("/admin/grievances/{anon}/attachments/{}", 1))
        .await;
    photo.assert_status(200);
    let bytes = photo.bytes.as_slice();
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "still a JPEG");
    assert!(!contains(bytes, b"Exif") && !contains(bytes, b"PHONE-MAKER-4711"));
    assert!(photo
        .header("content-disposition")
        .contains("%E9%99%84%E4%BB%B61.jpg"));
    let doc = app
        .get(&format!("/admin/grievances/{anon}/attachments/{}", 2))
        .await;
    doc.assert_status(200);
    let bytes = doc.bytes.as_slice();
    for needle in [
        &b"WANG-XIAOMING"[..],
        b"PC-OF-WANG",
        b"XMP-SECRET",
        b"/Author",
    ] {
        assert!(
            !contains(bytes, needle),
            "{}",
            String::from_utf8_lossy(needle)
        );
    }
    let back = lopdf::Document::load_mem(bytes).unwrap();
    assert_eq!(back.get_pages().len(), 1, "the document itself survives");
    assert!(doc
        .header("content-disposition")
        .contains("%E9%99%84%E4%BB%B62.pdf"));
    // The named photo: name kept (as .jpg), EXIF gone.
    let photo_case = {
        use diesel::prelude::*;
        use zhijia::db::schema::grievances;
        grievances::table
            .filter(grievances::title.eq("有定位的照片"))
            .select(grievances::public_ref)
            .first::<String>(&mut app.conn())
            .unwrap()
    };
    let files =
        model::attachments_of(&mut app.conn(), case(&mut app.conn(), &photo_case).id).unwrap();
    assert_eq!(files[0].filename, "现场.jpg");
    let p = app
        .get(&format!("/admin/grievances/{photo_case}/attachments/{}", 1))
        .await;
    assert!(!contains(&p.bytes, b"PHONE-MAKER-4711"));
    let _ = named;
}

#[actix_web::test]
async fn cadre_actions_out_of_order_are_refused_assign_and_escalate_work_and_unrated_answers_close()
{
    let mut app = spawn_base().await;
    app.login_ok("demo-member").await;
    let id = file_named(&mut app, "工装发放不足").await;
    // An anonymous case addressed to the top union.
    let token = zhijia::auth::random_token(16);
    let mut f = case_fields(&token, "匿名：总部食堂卫生");
    let root = zhijia::org::model::find(&mut app.conn(), 1)
        .unwrap()
        .unwrap();
    assert!(root.parent_id.is_none());
    let root_id = root.id.to_string();
    f.extend([("anonymous", "1"), ("unit_id", root_id.as_str())]);
    app.post_multipart("/grievances/new", &f, &[])
        .await
        .assert_status(200);
    app.logout().await;

    app.login_ok("demo-cadre").await;
    // A reply before the case is accepted.
    act(&mut app, &id, "reply", "我们来看看")
        .await
        .assert_status(422)
        .assert_contains("受理后才能回复");
    assert_eq!(case(&mut app.conn(), &id).state, model::State::Submitted);
    // Assigning to someone who does not handle the unit, then to the chair who does.
    let v = case(&mut app.conn(), &id).version.to_string();
    let member = app.member_id("demo-member-b").to_string();
    app.post(
        &format!("/admin/grievances/{id}/act"),
        &[("action", "assign"), ("version", &v), ("cadre_id", &member)],
    )
    .await
    .assert_status(422)
    .assert_contains("只能指派给负责该单位的工会干部");
    let chair = app.member_id("demo-chair");
    let r = app
        .post(
            &format!("/admin/grievances/{id}/act"),
            &[
                ("action", "assign"),
                ("version", &v),
                ("cadre_id", &chair.to_string()),
            ],
        )
        .await;
    r.assert_status(303);
    assert_eq!(case(&mut app.conn(), &id).handler_id, Some(chair));
    assert_eq!(app.audit_count("grievance.assign"), 1);
    app.logout().await;

    // The top union cannot pass a case further up.
    app.login_ok("demo-admin").await;
    let top = {
        use diesel::prelude::*;
        use zhijia::db::schema::grievances;
        grievances::table
            .filter(grievances::title.eq("匿名：总部食堂卫生"))
            .select(grievances::public_ref)
            .first::<String>(&mut app.conn())
            .unwrap()
    };
    act(&mut app, &top, "escalate", "")
        .await
        .assert_status(422)
        .assert_contains("已是最高一级工会，无法再转办");
    assert_eq!(case(&mut app.conn(), &top).escalations, 0);
    // Escalating the member's case moves it to the parent union.
    let before = case(&mut app.conn(), &id);
    act(&mut app, &id, "escalate", "").await.assert_status(303);
    let after = case(&mut app.conn(), &id);
    assert_eq!(after.state, model::State::Escalated);
    assert_eq!(after.escalations, before.escalations + 1);
    assert_ne!(after.unit_id, before.unit_id);

    // Answered and left unrated for more than seven days: the job closes it.
    act(&mut app, &top, "accept", "").await.assert_status(303);
    act(&mut app, &top, "answer", "已整改")
        .await
        .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    // (The receipt is not at hand here; a named member's own out-of-range rating instead.)
    let named = file_named(&mut app, "评分测试").await;
    app.logout().await;
    app.login_ok("demo-cadre").await;
    act(&mut app, &named, "accept", "").await.assert_status(303);
    act(&mut app, &named, "answer", "已处理")
        .await
        .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    for bad in ["0", "6", "x"] {
        app.post(
            &format!("/grievances/{named}/act"),
            &[("action", "rate"), ("rating", bad), ("text", "")],
        )
        .await
        .assert_status(422)
        .assert_contains("请选择 1 到 5 星");
    }
    assert_eq!(case(&mut app.conn(), &named).rating, None);
    let later = app.state.config.clock.now() + chrono::Duration::days(8);
    let (_, closed) = zhijia::grievances::service::run_deadlines(&mut app.conn(), later).unwrap();
    assert!(closed >= 2, "{closed}");
    for c in [&top, &named] {
        let g = case(&mut app.conn(), c);
        assert_eq!(g.state, model::State::Closed);
        let last = model::events(&mut app.conn(), g.id, true).unwrap();
        assert!(last.iter().any(|e| e.body.contains("自动办结")));
    }
}

/// The cadre home's count of open cases (two indexed counts) equals the inbox's total (one
/// `OR` query) for every scope, a case assigned to a cadre outside their units included.
#[actix_web::test]
async fn the_cadre_homes_open_count_equals_the_inboxs_total() {
    use diesel::prelude::*;
    use zhijia::db::schema::grievances;
    let app = spawn_base().await;
    let now = app.state.config.clock.now();
    let mut conn = app.conn();
    for (who, title) in [
        ("demo-member", "加班费未发"),
        ("demo-member-b", "宿舍漏水"),
        ("demo-member", "工伤报销慢"),
    ] {
        crate::builders::grievance(&mut conn, now, who, title);
    }
    // One case of the other branch handed to demo-cadre.
    let cadre = app.member_id("demo-cadre");
    diesel::update(grievances::table.filter(grievances::title.eq("宿舍漏水")))
        .set(grievances::handler_id.eq(cadre))
        .execute(&mut conn)
        .unwrap();
    let a = crate::builders::unit_id(&mut conn, "项目一部分会");
    let b = crate::builders::unit_id(&mut conn, "路桥分会");
    let all: Vec<i32> = zhijia::db::schema::org_units::table
        .select(zhijia::db::schema::org_units::id)
        .load(&mut conn)
        .unwrap();
    let filter = model::CaseFilter::default();
    let mut seen = Vec::new();
    for (ids, handler) in [
        (None, cadre),
        (Some(all.clone()), cadre),
        (Some(vec![a]), cadre),
        (Some(vec![b]), cadre),
        (Some(vec![a]), app.member_id("demo-cadre-b")),
        (Some(vec![]), cadre),
    ] {
        let count = model::open_count(&mut conn, ids.as_deref(), handler).unwrap();
        let (_, pager) =
            model::search(&mut conn, ids.as_deref(), handler, &filter, true, now, 1).unwrap();
        assert_eq!(count, pager.total, "{ids:?} {handler}");
        seen.push(count);
    }
    assert_eq!(seen[0], 3);
    let handled: i64 = grievances::table
        .filter(grievances::handler_id.eq(cadre))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert!(handled >= 1);
    assert_eq!(seen[5], handled, "no units: the cases handed to them alone");
}
