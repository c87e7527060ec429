//! 普惠 · 帮扶 · 慰问: availability, the approval chain, budget, payout and its export.

use zhijia::benefits::model;

use crate::grievances::PNG;
use crate::helpers::*;

fn item_id(conn: &mut zhijia::db::PooledConn, name: &str) -> i32 {
    model::items(conn)
        .unwrap()
        .into_iter()
        .find(|i| i.name == name)
        .unwrap()
        .id
}

fn req(conn: &mut zhijia::db::PooledConn, id: i32) -> model::BenefitRequest {
    model::request(conn, id).unwrap().unwrap()
}

/// Apply as the logged-in member; returns the response.
async fn apply<S, B>(
    app: &mut TestApp<S>,
    item: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &[u8])],
) -> Resp
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let id = item_id(&mut app.conn(), item);
    let token = zhijia::auth::random_token(16);
    let mut all = vec![("submit_token", token.as_str())];
    all.extend_from_slice(fields);
    app.post_multipart(&format!("/benefits/apply/{id}"), &all, files)
        .await
}

fn id_of(r: &Resp) -> i32 {
    r.location()
        .trim_start_matches("/benefits/requests/")
        .parse()
        .unwrap_or_else(|_| panic!("not created: {}", r.body))
}

async fn decide<S, B>(app: &mut TestApp<S>, id: i32, action: &str, text: &str) -> Resp
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let v = req(&mut app.conn(), id).version.to_string();
    app.post(
        &format!("/admin/benefits/{id}/decide"),
        &[("action", action), ("version", &v), ("text", text)],
    )
    .await
}

#[actix_web::test]
async fn a_second_birthday_greeting_in_the_same_year_is_refused_with_the_reason() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    app.login_ok("demo-member").await;
    let page = app.get("/benefits").await;
    page.assert_status(200)
        .assert_contains("现在可以申请")
        .assert_contains("生日慰问");
    let r = apply(&mut app, "生日慰问", &[], &[]).await;
    r.assert_status(303);
    let page = app.get("/benefits").await;
    page.assert_contains("今年已申请或已领取（每人每年一次）");
    let r = apply(&mut app, "生日慰问", &[], &[]).await;
    r.assert_status(422).assert_contains("今年已申请或已领取");
    // Withdrawn requests free the slot again.
    let first = model::requests_of(&mut app.conn(), app.member_id("demo-member")).unwrap()[0].id;
    app.post(&format!("/benefits/requests/{first}/withdraw"), &[])
        .await
        .assert_status(303);
    apply(&mut app, "生日慰问", &[], &[])
        .await
        .assert_status(303);
}

#[actix_web::test]
async fn the_same_illness_is_paid_once_a_year_but_another_illness_may_apply() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    app.login_ok("demo-member").await;
    let f = [
        ("amount", "800"),
        ("event", "阑尾炎"),
        ("field_0", "市一医院"),
        ("field_1", "5"),
    ];
    apply(&mut app, "住院慰问", &f, &[("发票.png", PNG)])
        .await
        .assert_status(303);
    apply(&mut app, "住院慰问", &f, &[("发票.png", PNG)])
        .await
        .assert_status(422)
        .assert_contains("同一事由每年只能申请一次");
    let g = [
        ("amount", "800"),
        ("event", "骨折"),
        ("field_0", "市一医院"),
        ("field_1", "9"),
    ];
    apply(&mut app, "住院慰问", &g, &[("发票.png", PNG)])
        .await
        .assert_status(303);
    // Required material is required.
    let h = [
        ("amount", "800"),
        ("event", "肺炎"),
        ("field_0", "市一医院"),
        ("field_1", "9"),
    ];
    apply(&mut app, "住院慰问", &h, &[])
        .await
        .assert_status(422)
        .assert_contains("请上传所需材料");
}

#[actix_web::test]
async fn an_amount_over_the_threshold_adds_the_extra_step() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    app.login_ok("demo-member").await;
    let small = id_of(
        &apply(
            &mut app,
            "住院慰问",
            &[
                ("amount", "1000"),
                ("event", "感冒"),
                ("field_0", "医院"),
                ("field_1", "2"),
            ],
            &[("f.png", PNG)],
        )
        .await,
    );
    let big = id_of(
        &apply(
            &mut app,
            "住院慰问",
            &[
                ("amount", "1500"),
                ("event", "骨折"),
                ("field_0", "医院"),
                ("field_1", "20"),
            ],
            &[("f.png", PNG)],
        )
        .await,
    );
    assert_eq!(req(&mut app.conn(), small).chain(), vec!["cadre", "chair"]);
    assert_eq!(
        req(&mut app.conn(), big).chain(),
        vec!["cadre", "chair", "chair"]
    );
    app.logout().await;
    app.login_ok("demo-cadre").await;
    decide(&mut app, big, "approve", "")
        .await
        .assert_status(303);
    app.logout().await;
    app.login_ok("demo-chair").await;
    decide(&mut app, big, "approve", "")
        .await
        .assert_status(303);
    assert_eq!(
        req(&mut app.conn(), big).state,
        model::State::Submitted,
        "the extra step is still open"
    );
    // The same chair cannot take the extra step too.
    decide(&mut app, big, "approve", "")
        .await
        .assert_status(422)
        .assert_contains("需由其他审批人审批");
    app.logout().await;
    // The chair of the group union takes it.
    app.login_ok("group-chair").await;
    decide(&mut app, big, "approve", "")
        .await
        .assert_status(303);
    assert_eq!(req(&mut app.conn(), big).state, model::State::Approved);
}

#[actix_web::test]
async fn return_resubmit_approve_and_pay() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    app.login_ok("demo-member").await;
    let id = id_of(
        &apply(
            &mut app,
            "结婚慰问",
            &[
                ("amount", "¥1,000.00"),
                ("field_0", "2026-10-01"),
                ("field_1", "李四"),
            ],
            &[("结婚证.png", PNG)],
        )
        .await,
    );
    assert_eq!(req(&mut app.conn(), id).amount_fen, 100000);
    app.logout().await;
    app.login_ok("demo-cadre").await;
    app.get("/admin/inbox")
        .await
        .assert_contains("待我审批的普惠申请");
    decide(&mut app, id, "return", "")
        .await
        .assert_status(422)
        .assert_contains("请写明需要补充的材料");
    decide(&mut app, id, "return", "结婚证照片不清晰，请重新上传")
        .await
        .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get(&format!("/benefits/requests/{id}"))
        .await
        .assert_contains("结婚证照片不清晰")
        .assert_contains("补充材料");
    app.post_multipart(
        &format!("/benefits/requests/{id}/resubmit"),
        &[("note", "已重新拍照")],
        &[("结婚证2.png", PNG)],
    )
    .await
    .assert_status(303);
    assert_eq!(req(&mut app.conn(), id).state, model::State::Submitted);
    app.logout().await;
    app.login_ok("demo-cadre").await;
    decide(&mut app, id, "approve", "").await.assert_status(303);
    app.logout().await;
    app.login_ok("demo-chair").await;
    decide(&mut app, id, "approve", "").await.assert_status(303);
    assert_eq!(req(&mut app.conn(), id).state, model::State::Approved);
    app.logout().await;
    app.login_ok("demo-finance").await;
    let page = app.get("/admin/benefits/payouts").await;
    page.assert_status(200)
        .assert_contains(&format!("#{id} 结婚慰问"));
    let id_s = id.to_string();
    app.post(
        "/admin/benefits/payouts",
        &[("id", id_s.as_str()), ("reference", "")],
    )
    .await
    .assert_status(303);
    assert_eq!(
        req(&mut app.conn(), id).state,
        model::State::Approved,
        "a payment needs its reference"
    );
    app.post(
        "/admin/benefits/payouts",
        &[("id", id_s.as_str()), ("reference", "FK2026-0001")],
    )
    .await
    .assert_status(303);
    let r = req(&mut app.conn(), id);
    assert_eq!(
        (r.state.as_str(), r.paid_ref.as_deref()),
        ("paid", Some("FK2026-0001"))
    );
    // Paid is final: paying again changes nothing.
    app.post(
        "/admin/benefits/payouts",
        &[("id", id_s.as_str()), ("reference", "FK-AGAIN")],
    )
    .await
    .assert_status(303);
    assert_eq!(
        req(&mut app.conn(), id).paid_ref.as_deref(),
        Some("FK2026-0001")
    );
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get(&format!("/benefits/requests/{id}"))
        .await
        .assert_contains("已发放")
        .assert_contains("FK2026-0001");
}

#[actix_web::test]
async fn a_rejection_carries_its_reason() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    app.login_ok("demo-member").await;
    let id = id_of(&apply(&mut app, "生日慰问", &[], &[]).await);
    app.logout().await;
    app.login_ok("demo-cadre").await;
    decide(&mut app, id, "reject", "").await.assert_status(422);
    decide(&mut app, id, "reject", "生日不在本月")
        .await
        .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get(&format!("/benefits/requests/{id}"))
        .await
        .assert_contains("未通过")
        .assert_contains("生日不在本月");
}

#[actix_web::test]
async fn an_approval_that_would_overspend_the_budget_is_refused_and_one_that_uses_it_up_passes() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    let sub1 = zhijia::org::model::find_by_name(&mut app.conn(), "第一工程公司工会").unwrap()[0].id;
    let year = chrono::Datelike::year(&app.state.config.clock.now());
    let now = app.state.config.clock.now();
    // Leave 100 元 in this year's perk budget.
    let b = model::budget_for(&mut app.conn(), &format!("/1/{sub1}/"), year, "perk")
        .unwrap()
        .unwrap();
    let (committed, _) = model::budget_use(&mut app.conn(), b.id).unwrap();
    model::set_budget(&mut app.conn(), sub1, year, "perk", committed + 10000, now).unwrap();
    app.login_ok("demo-member").await;
    let id = id_of(
        &apply(
            &mut app,
            "健身卡补贴",
            &[("amount", "300"), ("field_0", "体育馆")],
            &[],
        )
        .await,
    );
    app.logout().await;
    app.login_ok("demo-cadre").await;
    decide(&mut app, id, "approve", "").await.assert_status(303);
    app.logout().await;
    app.login_ok("demo-chair").await;
    decide(&mut app, id, "approve", "")
        .await
        .assert_status(422)
        .assert_contains("预算不足")
        .assert_contains("剩余 100.00 元");
    assert_eq!(req(&mut app.conn(), id).state, model::State::Submitted);
    let page = app.get("/admin/benefits/budgets").await;
    page.assert_status(200).assert_contains("普惠");
    // A request that uses the budget up to the last fen is approved.
    let (committed, paid) = model::budget_use(&mut app.conn(), b.id).unwrap();
    model::set_budget(&mut app.conn(), sub1, year, "perk", committed + 30000, now).unwrap();
    decide(&mut app, id, "approve", "").await.assert_status(303);
    assert_eq!(req(&mut app.conn(), id).state, model::State::Approved);
    assert_eq!(
        model::budget_use(&mut app.conn(), b.id).unwrap(),
        (committed + 30000, paid),
        "approved counts as committed, not yet as paid"
    );
    // Once finance pays it, it counts as paid too.
    app.logout().await;
    app.login_ok("demo-finance").await;
    app.post(
        "/admin/benefits/payouts",
        &[
            ("id", id.to_string().as_str()),
            ("reference", "FK-BUDGET-1"),
        ],
    )
    .await
    .assert_status(303);
    assert_eq!(req(&mut app.conn(), id).state, model::State::Paid);
    assert_eq!(
        model::budget_use(&mut app.conn(), b.id).unwrap(),
        (committed + 30000, paid + 30000)
    );
}

#[actix_web::test]
async fn nobody_approves_their_own_request() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    app.login_ok("demo-cadre").await;
    let id = id_of(&apply(&mut app, "生日慰问", &[], &[]).await);
    decide(&mut app, id, "approve", "")
        .await
        .assert_status(422)
        .assert_contains("不能审批自己的申请");
    assert_eq!(req(&mut app.conn(), id).state, model::State::Submitted);
    app.logout().await;
    // The chair above may take the cadre step instead.
    app.login_ok("demo-chair").await;
    decide(&mut app, id, "approve", "").await.assert_status(303);
    assert_eq!(req(&mut app.conn(), id).state, model::State::Approved);
}

#[actix_web::test]
async fn a_member_cannot_see_another_members_request_and_outsiders_cannot_decide() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    app.login_ok("demo-member").await;
    let id = id_of(
        &apply(
            &mut app,
            "困难帮扶",
            &[
                ("amount", "2000"),
                ("field_0", "配偶重病"),
                ("field_1", "6222 0000 1111 2222"),
            ],
            &[("证明.png", PNG)],
        )
        .await,
    );
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.get(&format!("/benefits/requests/{id}"))
        .await
        .assert_status(404);
    app.post(&format!("/benefits/requests/{id}/withdraw"), &[])
        .await
        .assert_status(404);
    app.get(&format!("/admin/benefits/{id}"))
        .await
        .assert_status(403);
    app.logout().await;
    // A cadre of the sibling branch does not see it at all.
    app.login_ok("demo-cadre-b").await;
    app.get(&format!("/admin/benefits/{id}"))
        .await
        .assert_status(404);
    decide(&mut app, id, "approve", "").await.assert_status(404);
    app.logout().await;
    // The approver sees the bank details, and that view is audited.
    app.login_ok("demo-cadre").await;
    let before = app.audit_count("benefit.view_details");
    app.get(&format!("/admin/benefits/{id}"))
        .await
        .assert_status(200)
        .assert_contains("6222 0000 1111 2222");
    assert_eq!(app.audit_count("benefit.view_details"), before + 1);
}

#[test]
fn amounts_are_read_as_people_type_them_or_refused() {
    use zhijia::benefits::service::parse_amount;
    let cases: &[(&str, Option<i64>)] = &[
        ("500", Some(50000)),
        ("500.5", Some(50050)),
        ("500.05", Some(50005)),
        ("¥1,000.00", Some(100000)),
        ("￥1,000", Some(100000)),
        ("１０００", Some(100000)),
        ("１，０００．５０", Some(100050)),
        ("800元", Some(80000)),
        (" 300 ", Some(30000)),
        (".5", Some(50)),
        ("RMB 20", Some(2000)),
        ("0", None),
        ("0.00", None),
        ("-100", None),
        ("1.234", None),
        ("abc", None),
        ("", None),
        ("1e5", None),
        ("12,34.5.6", None),
        ("99999999999999", None),
        ("NaN", None),
        ("½", None),
    ];
    for (input, want) in cases {
        assert_eq!(parse_amount(input).ok(), *want, "{input:?}");
    }
}

#[actix_web::test]
async fn odd_amounts_through_the_form_give_422_or_the_right_value_never_500() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    app.login_ok("demo-member").await;
    let inputs = [
        "0",
        "-5",
        "abc",
        "1.999",
        "600",
        "５００",
        "¥499.99",
        "",
        "１e3",
        "500元",
        "9999999999999",
        "0.001",
        "0.01",
        "NaN",
        "..",
        "¥",
        "300,00",
    ];
    for a in inputs {
        let r = apply(
            &mut app,
            "健身卡补贴",
            &[("amount", a), ("field_0", "馆")],
            &[],
        )
        .await;
        assert!(
            r.status.as_u16() == 303 || r.status.as_u16() == 422,
            "{a:?} → {}",
            r.status
        );
        if r.status.as_u16() == 303 {
            let id = id_of(&r);
            let amount = req(&mut app.conn(), id).amount_fen;
            assert!(amount > 0 && amount <= 50000, "{a:?} → {amount}");
            // Free the yearly slot for the next input.
            app.post(&format!("/benefits/requests/{id}/withdraw"), &[])
                .await
                .assert_status(303);
        } else {
            r.assert_contains("金额");
        }
    }
}

#[actix_web::test]
async fn the_payout_export_reads_back_with_the_same_rows_and_total() {
    use calamine::{Data, DataType, Reader, Xlsx};
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    for (who, item, yuan) in [
        ("demo-member", "健身卡补贴", "120.50"),
        ("demo-member-b", "退休慰问", "800"),
        ("demo-member-b", "丧葬慰问", "2000"),
    ] {
        app.with(|c, now| benefit_request(c, now, who, item, yuan, true));
    }
    // One still waiting: not in the payout sheet.
    app.with(|c, now| benefit_request(c, now, "demo-member", "丧葬慰问", "500", false));
    app.login_ok("demo-finance").await;
    let r = app.get("/admin/benefits/payouts.xlsx").await;
    r.assert_status(200);
    assert!(r.header("content-disposition").contains(".xlsx"));
    let bytes = r.bytes.clone();
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    let data = &rows[1..rows.len() - 1];
    let db_rows = model::in_units(
        &mut app.conn(),
        None,
        Some(model::State::Approved),
        (10_000, 0),
    )
    .unwrap();
    assert!(!db_rows.is_empty(), "approved, unpaid requests");
    assert_eq!(data.len(), 3);
    assert_eq!(data.len(), db_rows.len());
    let mut sheet_ids: Vec<i64> = data.iter().map(|r| r[0].as_f64().unwrap() as i64).collect();
    let mut db_ids: Vec<i64> = db_rows.iter().map(|r| i64::from(r.id)).collect();
    sheet_ids.sort();
    db_ids.sort();
    assert_eq!(sheet_ids, db_ids);
    let total_cents = (rows.last().unwrap()[5].as_f64().unwrap() * 100.0).round() as i64;
    assert_eq!(
        total_cents,
        db_rows.iter().map(|r| r.amount_fen).sum::<i64>()
    );
    // Names and amounts match row by row.
    for row in data {
        let id = row[0].as_f64().unwrap() as i32;
        let r = db_rows.iter().find(|r| r.id == id).unwrap();
        let m = zhijia::members::model::find(&mut app.conn(), r.member_id)
            .unwrap()
            .unwrap();
        assert_eq!(row[1].to_string(), m.name);
        assert_eq!(
            (row[5].as_f64().unwrap() * 100.0).round() as i64,
            r.amount_fen
        );
    }
}

#[actix_web::test]
async fn eight_approvers_racing_over_200_requests_make_exactly_one_decision_per_step() {
    let app = spawn_base().await;
    let now = app.state.config.clock.now();
    let year = chrono::Datelike::year(&now);
    let sub1 = zhijia::org::model::find_by_name(&mut app.conn(), "第一工程公司工会").unwrap()[0].id;
    model::set_budget(&mut app.conn(), sub1, year, "aid", 1_000_000_000, now).unwrap();
    // An unlimited item so one member can hold 200 requests.
    let item = model::insert_item(
        &mut app.conn(),
        &model::NewBenefitItem {
            name: "并发测试帮扶",
            category: "aid",
            description: "",
            amount_mode: model::AmountMode::Max,
            amount_fen: 100000,
            frequency: model::Frequency::Unlimited,
            required_fields: "",
            required_attachments: "",
            unit_id: None,
            steps: "cadre,chair",
            extra_step_above_fen: None,
            extra_step_role: None,
            sensitive: false,
            active: true,
            created_at: now,
        },
    )
    .unwrap();
    let member = zhijia::auth::user::load_user(&mut app.conn(), app.member_id("demo-member"), "")
        .unwrap()
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..200 {
        let form = zhijia::benefits::service::ApplyForm {
            amount: "100".into(),
            event: String::new(),
            values: vec![],
            submit_token: format!("race-{i:04}-xxxxxxxxxxxx"),
        };
        ids.push(
            zhijia::benefits::service::apply(&mut app.conn(), &member, item, &form, &[], now)
                .unwrap(),
        );
    }
    let load = |n: &str| {
        zhijia::auth::user::load_user(&mut app.conn(), app.member_id(n), "")
            .unwrap()
            .unwrap()
    };
    // Eight threads race on each step: the branch cadre's sessions on step 1, the chair's on step 2.
    let cadre = load("demo-cadre");
    let chair = load("demo-chair");
    for version in [1, 2] {
        let ok = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                let a = if version == 1 { &cadre } else { &chair };
                let (pool, ids, ok) = (app.state.pool.clone(), &ids, &ok);
                s.spawn(move || {
                    let mut conn = pool.get().unwrap();
                    let actor = zhijia::audit::Actor::user(a, None, now);
                    for id in ids {
                        match zhijia::benefits::service::decide(
                            &mut conn,
                            a,
                            &actor,
                            *id,
                            version,
                            zhijia::benefits::service::Decision::Approve,
                        ) {
                            Ok(()) => {
                                ok.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Err(zhijia::error::AppError::Conflict(_))
                            | Err(zhijia::error::AppError::Validation(_)) => {}
                            Err(e) => panic!("unexpected error: {e}"),
                        }
                    }
                });
            }
        });
        assert_eq!(
            ok.load(std::sync::atomic::Ordering::SeqCst),
            200,
            "one decision per request at step {version}"
        );
    }
    for id in ids {
        let r = model::request(&mut app.conn(), id).unwrap().unwrap();
        assert_eq!(r.state, model::State::Approved);
        let approvers =
            model::approver_ids(&mut app.conn(), zhijia::db::ids::RequestId(id)).unwrap();
        assert_eq!(approvers.len(), 2, "one approval row per step");
        assert_ne!(approvers[0], approvers[1]);
    }
}

#[actix_web::test]
async fn an_admin_adds_an_item_for_one_branch_and_only_its_members_may_apply() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    let branch_b = zhijia::org::model::find_by_name(&mut app.conn(), "项目一部分会").unwrap()[0]
        .id
        .to_string();
    app.login_ok("demo-admin").await;
    let f = [
        ("name", "高温慰问"),
        ("category", "greeting"),
        ("amount_mode", "fixed"),
        ("amount", "２００"),
        ("frequency", "yearly"),
        ("steps", "cadre"),
        ("unit_id", branch_b.as_str()),
        ("active_from", "2000-01-01"),
        ("active_until", "2099-12-31"),
        ("fields", ""),
        ("attachments", ""),
        ("description", "一线高温作业会员"),
    ];
    app.post("/admin/benefits/catalogue", &f)
        .await
        .assert_status(303);
    app.get("/admin/benefits/catalogue")
        .await
        .assert_contains("高温慰问")
        .assert_contains("200.00 元");
    // Bad input: the form comes back (422) with each message by its field and what was typed.
    let bad = app
        .post(
            "/admin/benefits/catalogue",
            &[
                ("name", "坏金额"),
                ("category", "greeting"),
                ("amount", "-1"),
                ("steps", "cadre"),
                ("active_until", "2026-02-30"),
                ("description", "说明文字保留"),
            ],
        )
        .await;
    bad.assert_status(422)
        .assert_contains("value=\"坏金额\"")
        .assert_contains("说明文字保留")
        .assert_contains("id=\"err-amount\"")
        .assert_contains("id=\"err-active_until\"")
        .assert_contains("aria-describedby=\"err-amount\"");
    assert!(!bad.body.contains("id=\"err-name\""), "the name was fine");
    assert!(!app
        .get("/admin/benefits/catalogue")
        .await
        .body
        .contains("坏金额"));
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get("/benefits")
        .await
        .assert_contains("仅限项目一部分会会员申请");
    apply(&mut app, "高温慰问", &[], &[])
        .await
        .assert_status(422);
    app.logout().await;
    app.login_ok("demo-member-b").await;
    apply(&mut app, "高温慰问", &[], &[])
        .await
        .assert_status(303);
    // Cadres cannot change the catalogue.
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.post("/admin/benefits/catalogue", &f)
        .await
        .assert_status(403);
}

/// Segregation of duties: finance cannot mark its own request paid (another finance person
/// does), and the refusal says why.
#[actix_web::test]
async fn finance_cannot_mark_its_own_request_paid() {
    use diesel::prelude::*;
    use zhijia::db::schema::benefit_requests as br;
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    let finance = app.member_id("demo-finance");
    // An approved request, made finance's own.
    let id = app.with(|c, now| benefit_request(c, now, "demo-member", "健身卡补贴", "100", true));
    diesel::update(br::table.find(id))
        .set(br::member_id.eq(finance))
        .execute(&mut app.conn())
        .unwrap();
    app.login_ok("demo-finance").await;
    let id_s = id.to_string();
    let r = app
        .post(
            "/admin/benefits/payouts",
            &[("id", id_s.as_str()), ("reference", "FK-SELF-1")],
        )
        .await;
    r.assert_status(303);
    app.get("/admin/benefits/payouts")
        .await
        .assert_contains("不能为自己的申请登记付款");
    assert_eq!(req(&mut app.conn(), id).state, model::State::Approved);
}

#[actix_web::test]
async fn an_admin_pauses_a_catalogue_item_and_members_cannot_apply_until_it_is_resumed() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    let id = item_id(&mut app.conn(), "住院慰问");
    let active =
        |app_conn: &mut zhijia::db::PooledConn| model::item(app_conn, id).unwrap().unwrap().active;
    assert!(active(&mut app.conn()));
    app.login_ok("demo-cadre").await;
    app.post(&format!("/admin/benefits/catalogue/{id}/toggle"), &[])
        .await
        .assert_status(403);
    assert!(
        active(&mut app.conn()),
        "only administrators change the catalogue"
    );
    app.logout().await;
    app.login_ok("demo-admin").await;
    app.post(&format!("/admin/benefits/catalogue/{id}/toggle"), &[])
        .await
        .assert_status(303);
    assert!(!active(&mut app.conn()));
    assert_eq!(app.audit_count("benefit.item_toggle"), 1);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get("/benefits").await.assert_ok_without("住院慰问");
    app.get(&format!("/benefits/apply/{id}"))
        .await
        .assert_status(404);
    app.logout().await;
    app.login_ok("demo-admin").await;
    app.post(&format!("/admin/benefits/catalogue/{id}/toggle"), &[])
        .await
        .assert_status(303);
    assert!(active(&mut app.conn()));
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get("/benefits")
        .await
        .assert_status(200)
        .assert_contains("住院慰问");
}

#[actix_web::test]
async fn no_budget_for_the_year_blocks_approval_and_withdraw_or_resubmit_in_the_wrong_state_is_refused(
) {
    use diesel::prelude::*;
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    let year = chrono::Datelike::year(&app.state.config.clock.now());
    app.login_ok("demo-member").await;
    let id = id_of(
        &apply(
            &mut app,
            "健身卡补贴",
            &[("amount", "300"), ("field_0", "体育馆")],
            &[],
        )
        .await,
    );
    // Not returned: nothing to resubmit.
    app.post_multipart(
        &format!("/benefits/requests/{id}/resubmit"),
        &[("note", "补充")],
        &[],
    )
    .await
    .assert_status(422)
    .assert_contains("只有被退回的申请可以补充材料");
    app.logout().await;
    app.login_ok("demo-cadre").await;
    decide(&mut app, id, "approve", "").await.assert_status(303);
    app.logout().await;
    // Approved once: the member can no longer withdraw.
    app.login_ok("demo-member").await;
    app.post(&format!("/benefits/requests/{id}/withdraw"), &[])
        .await
        .assert_status(422)
        .assert_contains("已有审批人审批，不能撤回");
    assert_eq!(req(&mut app.conn(), id).state, model::State::Submitted);
    app.logout().await;
    // This year's perk budgets are gone: the last approval names the missing budget.
    diesel::delete(
        zhijia::db::schema::budgets::table
            .filter(zhijia::db::schema::budgets::year.eq(year))
            .filter(zhijia::db::schema::budgets::category.eq("perk")),
    )
    .execute(&mut app.conn())
    .unwrap();
    app.login_ok("demo-chair").await;
    decide(&mut app, id, "approve", "")
        .await
        .assert_status(422)
        .assert_contains(&format!("{year} 年没有可用的普惠类预算"));
    assert_eq!(req(&mut app.conn(), id).state, model::State::Submitted);
}

/// The cadre's list pages by 50 with a fixed number of statements per page (names in one
/// query, not one per row), and its pages together list every request once.
#[actix_web::test]
async fn the_request_list_pages_by_fifty_without_a_query_per_row() {
    let mut app = spawn_base().await;
    app.with(benefit_catalogue);
    let first = app.with(|c, now| benefit_request(c, now, "demo-member", "丧葬慰问", "500", false));
    // 119 copies of it (distinct submit tokens): 120 requests in the chair's scope.
    for i in 0..119 {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "INSERT INTO benefit_requests (item_id, member_id, unit_id, year, amount_fen, \
             event_key, details, steps, step, state, version, due_at, submit_token, created_at, updated_at) \
             SELECT item_id, member_id, unit_id, year, amount_fen, event_key, details, steps, step, state, \
             version, due_at, 'copy-{i}', created_at, updated_at FROM benefit_requests WHERE id = {first}"
        ))
        .execute(&mut app.conn())
        .unwrap();
    }
    assert_eq!(app.count("benefit_requests"), 120);
    app.login_ok("demo-chair").await;
    // Once first: the instance's caches (unit labels) fill on the first page.
    app.get("/admin/benefits").await.assert_status(200);
    let mut counts = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for page in 1..=3 {
        let path = format!("/admin/benefits?state=&page={page}");
        app.take_queries();
        let r = app.get(&path).await;
        r.assert_status(200);
        counts.push(app.take_queries());
        let list = r.body.split("class=\"filters\"").nth(1).unwrap();
        for part in list.split("href=\"/admin/benefits/").skip(1) {
            if let Some(id) = part.split('"').next().and_then(|s| s.parse::<i32>().ok()) {
                ids.insert((page, id));
            }
        }
        if page == 1 {
            r.assert_contains("第 1 / 3 页 · 共 120 条");
        }
    }
    // 50, 50 and 20 rows: the same statements.
    assert!(counts.iter().all(|n| *n == counts[0]), "{counts:?}");
    let listed: std::collections::BTreeSet<i32> = ids.iter().map(|(_, id)| *id).collect();
    assert_eq!(listed.len(), 120, "every request on exactly one page");
}
