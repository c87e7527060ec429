//! 调研: answer once under concurrency (also anonymous), no member link in anonymous answers,
//! charts equal the raw answers, the export reads back, who sees results when.

use crate::helpers::*;

const QUESTIONS: &str = "[单选] 您对食堂满意吗 *\n满意\n一般\n不满意\n\n[多选 最多2] 希望增加的服务\n健身房\n母婴室\n心理咨询\n\n[评分] 工会服务打分 *\n\n[文本] 其他建议";

async fn create_survey<S, B>(
    app: &mut TestApp<S>,
    title: &str,
    anonymous: bool,
    visibility: &str,
) -> i32
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let a = zhijia::org::model::find_by_name(&mut app.conn(), "机关分会").unwrap()[0]
        .id
        .to_string();
    let closes = zhijia::activities::service::to_local(
        &(app.state.config.clock.now() + chrono::Duration::days(7)),
    );
    let mut f = vec![
        ("title", title),
        ("source", QUESTIONS),
        ("closes_at", closes.as_str()),
        ("results_visibility", visibility),
        ("audience", a.as_str()),
    ];
    if anonymous {
        f.push(("anonymous", "1"));
    }
    let r = app.post("/admin/surveys/new", &f).await;
    r.assert_status(303);
    r.location()
        .trim_start_matches("/admin/surveys/")
        .parse()
        .unwrap()
}

fn question_ids(app_conn: &mut zhijia::db::PooledConn, id: i32) -> Vec<i32> {
    zhijia::surveys::model::questions(app_conn, id)
        .unwrap()
        .iter()
        .map(|q| q.id)
        .collect()
}

#[actix_web::test]
async fn three_concurrent_answers_from_each_of_200_members_store_200_and_anonymous_ones_hold_no_member_link(
) {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre").await;
    let id = create_survey(&mut app, "食堂满意度（匿名）", true, "after_close").await;
    let q = question_ids(&mut app.conn(), id);
    let people = app.members_with_sessions("机关分会", "SV", 200);
    let path = format!("/surveys/{id}");
    let (k0, k2) = (format!("q{}", q[0]), format!("q{}", q[2]));
    let fields = [(k0.as_str(), "1"), (k2.as_str(), "4")];
    let mut futs = Vec::new();
    for s in &people {
        for _ in 0..3 {
            futs.push(app.post_as(s, &path, &fields));
        }
    }
    let statuses = futures_util::future::join_all(futs).await;
    assert!(
        statuses.iter().all(|s| *s == 303),
        "{:?}",
        statuses.iter().filter(|s| **s != 303).collect::<Vec<_>>()
    );
    assert_eq!(
        app.count(&format!("survey_responses WHERE survey_id = {id}")),
        200
    );
    assert_eq!(
        app.count(&format!("survey_participants WHERE survey_id = {id}")),
        200
    );
    // Anonymous: no member and no unit on any answer sheet; nothing else to join on.
    assert_eq!(app.count(&format!("survey_responses WHERE survey_id = {id} AND (member_id IS NOT NULL OR unit_id IS NOT NULL)")), 0);
    let columns = |table: &str| -> Vec<String> {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct C {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let mut conn = app.conn();
        let sql = if zhijia::db::is_sqlite(&conn) {
            format!("SELECT name FROM pragma_table_info('{table}')")
        } else {
            format!("SELECT column_name::text AS name FROM information_schema.columns WHERE table_name = '{table}'")
        };
        diesel::sql_query(sql)
            .load::<C>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect()
    };
    let cols = columns("survey_answers");
    assert!(cols.iter().any(|c| c == "response_id"), "{cols:?}");
    assert!(
        !cols.iter().any(|c| c.contains("member")),
        "survey_answers columns: {cols:?}"
    );
    // The participants table has no time and no serial id to line up with the answers.
    let cols = columns("survey_participants");
    assert!(cols.iter().any(|c| c == "member_id"), "{cols:?}");
    assert!(
        !cols
            .iter()
            .any(|c| c == "id" || c.ends_with("_at") || c.ends_with("_on")),
        "survey_participants columns: {cols:?}"
    );
}

#[actix_web::test]
async fn chart_tallies_and_the_export_equal_the_raw_answers() {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre").await;
    let id = create_survey(&mut app, "服务需求调查", false, "after_answer").await;
    let q = question_ids(&mut app.conn(), id);
    let people = app.members_with_sessions("机关分会", "TL", 30);
    let path = format!("/surveys/{id}");
    let keys: Vec<String> = q.iter().map(|q| format!("q{q}")).collect();
    for (i, s) in people.iter().enumerate() {
        let c0 = (i % 3).to_string();
        let c1a = (i % 3).to_string();
        let c1b = ((i + 1) % 3).to_string();
        let r = ((i % 5) + 1).to_string();
        let text = format!("建议{i}");
        let mut f: Vec<(&str, &str)> = vec![(&keys[0], &c0), (&keys[2], &r)];
        if i % 2 == 0 {
            f.push((&keys[1], &c1a));
            f.push((&keys[1], &c1b));
        }
        if i % 4 == 0 {
            f.push((&keys[3], &text));
        }
        assert_eq!(app.post_as(s, &path, &f).await, 303);
    }
    // Too many choices and a missing required answer come back with messages.
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get(&format!("/surveys/{id}/results"))
        .await
        .assert_status(403);
    let r = app
        .post(&path, &[(&keys[1], "0"), (&keys[1], "1"), (&keys[1], "2")])
        .await;
    r.assert_status(422)
        .assert_contains("最多选 2 项")
        .assert_contains("这道题必须回答");
    app.post(&path, &[(&keys[0], "0"), (&keys[2], "5")])
        .await
        .assert_status(303);
    app.get(&format!("/surveys/{id}/results"))
        .await
        .assert_status(200)
        .assert_contains("<svg class=\"chart\"");
    app.logout().await;

    // Raw counts by SQL.
    let raw = |app_conn: &mut zhijia::db::PooledConn, qid: i32, choice: i32| -> i64 {
        use diesel::prelude::*;
        use zhijia::db::schema::survey_answers as a;
        a::table
            .filter(a::question_id.eq(qid))
            .filter(a::choice.eq(choice))
            .count()
            .get_result(app_conn)
            .unwrap()
    };
    let raw_rating = |app_conn: &mut zhijia::db::PooledConn, qid: i32, v: i32| -> i64 {
        use diesel::prelude::*;
        use zhijia::db::schema::survey_answers as a;
        a::table
            .filter(a::question_id.eq(qid))
            .filter(a::rating.eq(v))
            .count()
            .get_result(app_conn)
            .unwrap()
    };
    app.login_ok("demo-cadre").await;
    let page = app.get(&format!("/admin/surveys/{id}")).await;
    page.assert_status(200)
        .assert_contains("各单位参与情况")
        .assert_contains("建议0");
    let cells: Vec<i64> =
        regex_lite::Regex::new(r#"<td class="tally" data-label="[^"]*">(\d+)</td>"#)
            .unwrap()
            .captures_iter(&page.body)
            .map(|c| c[1].parse().unwrap())
            .collect();
    let mut conn = app.conn();
    let mut expected = Vec::new();
    for c in 0..3 {
        expected.push(raw(&mut conn, q[0], c));
    }
    for c in 0..3 {
        expected.push(raw(&mut conn, q[1], c));
    }
    for v in (1..=5).rev() {
        expected.push(raw_rating(&mut conn, q[2], v));
    }
    assert_eq!(cells, expected);
    assert_eq!(
        expected.iter().take(3).sum::<i64>(),
        31,
        "30 members and demo-member"
    );
    // The export's summary sheet holds the same numbers in the same order.
    let x = app.get(&format!("/admin/surveys/{id}/results.xlsx")).await;
    x.assert_status(200);
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(x.bytes.clone())).unwrap();
    let sum = wb.worksheet_range("汇总").unwrap();
    let nums: Vec<i64> = sum
        .rows()
        .filter_map(|r| match r.get(1) {
            Some(calamine::Data::Float(f)) if r[0] != "平均分" => Some(*f as i64),
            Some(calamine::Data::Int(i)) => Some(*i),
            _ => None,
        })
        .collect();
    assert_eq!(nums, expected);
    let sheets = wb.worksheet_range("答卷").unwrap();
    assert_eq!(sheets.rows().count(), 1 + 31);
    assert!(
        sheets.rows().any(|r| r.iter().any(|c| *c == "王小明")),
        "named survey lists names"
    );
}

#[actix_web::test]
async fn results_are_hidden_from_members_when_the_survey_says_so() {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre").await;
    let id = create_survey(&mut app, "内部评议", false, "cadres").await;
    let q = question_ids(&mut app.conn(), id);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.post(
        &format!("/surveys/{id}"),
        &[(&format!("q{}", q[0]), "0"), (&format!("q{}", q[2]), "3")],
    )
    .await
    .assert_status(303);
    // Once is enough: the second sheet is refused.
    let r = app
        .post(
            &format!("/surveys/{id}"),
            &[(&format!("q{}", q[0]), "1"), (&format!("q{}", q[2]), "1")],
        )
        .await;
    app.get(r.location())
        .await
        .assert_contains("每人只能提交一次");
    app.get(&format!("/surveys/{id}/results"))
        .await
        .assert_status(403);
    app.get("/surveys")
        .await
        .assert_contains("内部评议")
        .assert_contains("已提交");
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.get(&format!("/surveys/{id}")).await.assert_status(404);
}

#[actix_web::test]
async fn an_answer_after_the_survey_closes_is_refused_and_not_stored() {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre").await;
    let id = create_survey(&mut app, "年终满意度", false, "after_answer").await;
    app.logout().await;
    let q = question_ids(&mut app.conn(), id);
    let (k0, k2) = (format!("q{}", q[0]), format!("q{}", q[2]));
    // Seven days and a minute later the survey is closed.
    app.state.config.clock.advance(7 * 24 * 3600 + 60);
    app.login_ok("demo-member").await;
    app.get(&format!("/surveys/{id}"))
        .await
        .assert_status(200)
        .assert_contains("已截止");
    let r = app
        .post(
            &format!("/surveys/{id}"),
            &[(k0.as_str(), "0"), (k2.as_str(), "5")],
        )
        .await;
    r.assert_status(303);
    app.get(r.location()).await.assert_contains("问卷已截止");
    assert_eq!(
        app.count(&format!("survey_responses WHERE survey_id = {id}")),
        0
    );
}
