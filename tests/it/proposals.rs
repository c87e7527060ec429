//! 职代会提案 (issue 19): a proposal from draft through co-signing, the committee's review and
//! assignment, a handler's answer, 不满意 and a second answer, to 满意; the rules that stop it
//! (too few co-signers, outside the window, not a delegate, another department's handler); a
//! merge tells both delegates; an overdue answer escalates.

use crate::builders;
use crate::helpers::*;

/// A session open since yesterday for two weeks; four delegates; demo-chair on the committee;
/// 人力资源部 handled by road-cadre, 后勤保障部 by sub2-chair. Returns (session, hr, logistics).
fn setup(conn: &mut zhijia::db::DbConnection, now: chrono::NaiveDateTime) -> (i32, i32, i32) {
    use zhijia::proposals::model as m;
    let s = m::insert_session(
        conn,
        "第五届第三次职代会",
        now - chrono::Duration::days(1),
        now + chrono::Duration::days(14),
        2,
        now,
    )
    .unwrap();
    for (no, delegation) in [
        ("demo-member", "第一工程公司代表团"),
        ("demo-member-b", "第一工程公司代表团"),
        ("demo-cadre", "第一工程公司代表团"),
        ("demo-cadre-b", "第一工程公司代表团"),
    ] {
        let id = builders::user(conn, no).id;
        m::add_delegate(conn, s, id, delegation).unwrap();
    }
    let chair = builders::user(conn, "demo-chair").id;
    m::add_to_committee(conn, chair).unwrap();
    let hr = m::insert_department(conn, "人力资源部", now).unwrap();
    let logistics = m::insert_department(conn, "后勤保障部", now).unwrap();
    let (road, sub2) = (
        builders::user(conn, "road-cadre").id,
        builders::user(conn, "sub2-chair").id,
    );
    m::add_handler(conn, hr, road).unwrap();
    m::add_handler(conn, logistics, sub2).unwrap();
    (s, hr, logistics)
}

fn state_of(conn: &mut zhijia::db::DbConnection, id: i32) -> (String, i32) {
    let p = zhijia::proposals::model::find(conn, id).unwrap().unwrap();
    (p.state.as_str().to_string(), p.version)
}

fn draft_form(session: i32, title: &str) -> Vec<(&'static str, String)> {
    vec![
        ("session", session.to_string()),
        ("title", title.to_string()),
        ("category", "生活后勤".into()),
        (
            "reason",
            "夜班职工下班后食堂已关门，只能吃泡面，影响身体健康。".into(),
        ),
        (
            "measures",
            "建议食堂增设夜班餐，晚上十点到十二点供应热食。".into(),
        ),
        ("action", "save".into()),
    ]
}

async fn draft(
    app: &mut TestApp<
        impl actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
            Error = actix_web::Error,
        >,
    >,
    session: i32,
    title: &str,
) -> i32 {
    let form = draft_form(session, title);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app.post("/proposals/new", &pairs).await;
    r.assert_status(303);
    r.location().rsplit('/').next().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn a_proposal_goes_from_draft_to_a_second_answer_and_a_satisfied_delegate() {
    let mut app = spawn_base().await;
    let (session, hr, _) = app.with(setup);
    // A non-delegate cannot draft.
    app.login_ok("demo-finance").await;
    let form = draft_form(session, "增设夜班餐");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post("/proposals/new", &pairs).await.assert_status(403);
    app.logout().await;

    app.login_ok("demo-member").await;
    let id = draft(&mut app, session, "关于食堂增设夜班餐的提案").await;
    let path = format!("/proposals/{id}");
    // Not enough co-signers yet: it stays a draft.
    app.post(&path, &[("action", "submit"), ("version", "0")])
        .await
        .assert_status(303);
    assert_eq!(state_of(&mut app.conn(), id).0, "draft");
    app.get(&path)
        .await
        .assert_contains("至少 2 名代表附议才能提交（现有 0 名）");
    app.logout().await;
    for who in ["demo-member-b", "demo-cadre"] {
        app.login_ok(who).await;
        let v = state_of(&mut app.conn(), id).1.to_string();
        app.post(&path, &[("action", "cosign"), ("version", &v)])
            .await
            .assert_status(303);
        app.logout().await;
    }
    app.login_ok("demo-member").await;
    let v = state_of(&mut app.conn(), id).1.to_string();
    app.post(&path, &[("action", "submit"), ("version", &v)])
        .await
        .assert_status(303);
    assert_eq!(state_of(&mut app.conn(), id).0, "submitted");
    app.logout().await;

    // The committee accepts and assigns to 人力资源部.
    app.login_ok("demo-chair").await;
    let v = state_of(&mut app.conn(), id).1.to_string();
    app.post(
        &path,
        &[("action", "accept"), ("version", &v), ("note", "")],
    )
    .await
    .assert_status(303);
    let v = state_of(&mut app.conn(), id).1.to_string();
    // A department that does not exist, as lead or co-organiser: refused, nothing changes
    // (mutants: the department check weakened).
    for (lead, co) in [("999999", None), (hr.to_string().as_str(), Some("999999"))] {
        let mut f = vec![
            ("action", "assign"),
            ("version", v.as_str()),
            ("lead", lead),
        ];
        if let Some(co) = co {
            f.push(("co", co));
        }
        app.post(&path, &f)
            .await
            .assert_status(422)
            .assert_contains("请选择主办部门");
        assert_eq!(state_of(&mut app.conn(), id).0, "accepted");
    }
    app.post(
        &path,
        &[
            ("action", "assign"),
            ("version", &v),
            ("lead", &hr.to_string()),
        ],
    )
    .await
    .assert_status(303);
    assert_eq!(state_of(&mut app.conn(), id).0, "assigned");
    // The lead department's handler is told (mutants: the assignment's notifications dropped).
    let road = app.member_id("road-cadre");
    assert_eq!(
        app.count(&format!(
            "notifications WHERE member_id = {road} AND title LIKE '交办提案：%'"
        )),
        1
    );
    app.logout().await;

    // Another department's handler does not see it; the lead's handler answers (grade B).
    app.login_ok("sub2-chair").await;
    app.get(&path).await.assert_status(200); // the accepted proposal is on the public board
    let v = state_of(&mut app.conn(), id).1.to_string();
    app.post(
        &path,
        &[
            ("action", "answer"),
            ("version", &v),
            ("grade", "B"),
            ("answer", "已列入明年食堂改造计划，先在一食堂试点。"),
        ],
    )
    .await
    .assert_status(404);
    app.logout().await;
    app.login_ok("road-cadre").await;
    app.post(
        &path,
        &[
            ("action", "answer"),
            ("version", &v),
            ("grade", "B"),
            ("answer", "已列入明年食堂改造计划，先在一食堂试点。"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    // 不满意: back to the department once.
    app.login_ok("demo-member").await;
    let v = state_of(&mut app.conn(), id).1.to_string();
    app.post(
        &path,
        &[
            ("action", "rate"),
            ("version", &v),
            ("rating", "unsatisfied"),
        ],
    )
    .await
    .assert_status(303);
    assert_eq!(state_of(&mut app.conn(), id).0, "assigned");
    app.logout().await;
    app.login_ok("road-cadre").await;
    let v = state_of(&mut app.conn(), id).1.to_string();
    app.post(
        &path,
        &[
            ("action", "answer"),
            ("version", &v),
            ("grade", "A"),
            ("answer", "一食堂已于本月起供应夜班餐，二食堂下月开始。"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    let v = state_of(&mut app.conn(), id).1.to_string();
    app.post(
        &path,
        &[("action", "rate"), ("version", &v), ("rating", "satisfied")],
    )
    .await
    .assert_status(303);
    let p = zhijia::proposals::model::find(&mut app.conn(), id)
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            p.state.as_str(),
            p.grade.as_deref(),
            p.rating.as_deref(),
            p.answers
        ),
        ("closed", Some("A"), Some("satisfied"), 2)
    );
    // The answer is kept (mutants: the field dropped).
    assert_eq!(
        p.answer.as_deref(),
        Some("一食堂已于本月起供应夜班餐，二食堂下月开始。")
    );
    // The decision is audited as an acceptance (mutants: its audit code fell through).
    assert_eq!(
        app.count(&format!(
            "audit_log WHERE action = 'proposal.accept' AND object_id = '{id}'"
        )),
        1
    );
    // Each step's line on the timeline and whom it told (mutants: a step's timeline text or
    // notification emptied survived).
    let line =
        |like: &str| format!("proposal_events WHERE proposal_id = {id} AND body LIKE '{like}'");
    for like in [
        "%已列入明年食堂改造计划，先在一食堂试点。",
        "%一食堂已于本月起供应夜班餐，二食堂下月开始。",
        "不满意",
        "满意",
    ] {
        assert_eq!(app.count(&line(like)), 1, "{like}");
    }
    let author = app.member_id("demo-member");
    let told = |m: i32, like: &str| {
        format!("notifications WHERE member_id = {m} AND title LIKE '{like}' AND link = '{path}'")
    };
    assert_eq!(
        app.count(&told(
            author,
            "您的提案“关于食堂增设夜班餐的提案”已答复，请评价"
        )),
        2
    );
    assert!(app.count(&told(author, "提案“关于食堂增设夜班餐的提案”：%")) >= 1);
    assert!(
        app.count(
            "notifications WHERE title = '提案“关于食堂增设夜班餐的提案”的答复被评为不满意，请再次办理'"
        ) >= 1
    );
    app.get(&path)
        .await
        .assert_status(200)
        .assert_contains("已办结")
        .assert_contains("A 已解决");
    // The compilation: its XLSX read back matches the database, row by row.
    app.get(&format!("/proposals/compiled?session={session}"))
        .await
        .assert_status(200)
        .assert_contains("提案汇编")
        .assert_contains("人力资源部");
    let x = app
        .get(&format!("/proposals/compiled.xlsx?session={session}"))
        .await;
    x.assert_status(200);
    {
        use calamine::{Data, DataType, Reader, Xlsx};
        let mut wb: Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(x.bytes.clone())).unwrap();
        let sheet: Vec<Vec<Data>> = wb
            .worksheet_range_at(0)
            .unwrap()
            .unwrap()
            .rows()
            .map(|r| r.to_vec())
            .collect();
        let data = &sheet[2..];
        let (rows, figures) = zhijia::proposals::compile(&mut app.conn(), session).unwrap();
        assert_eq!(data.len(), rows.len());
        assert_eq!(data.len(), 1);
        for (x, r) in data.iter().zip(&rows) {
            assert_eq!(x[0].as_f64().unwrap() as i32, r.p.id);
            assert_eq!(x[1].to_string(), r.p.title);
            assert_eq!(x[2].to_string(), "王小明");
            assert_eq!(x[3].to_string(), "李晓红、张建国");
            assert_eq!(x[5].to_string(), "人力资源部");
            assert_eq!(x[8].to_string(), "A 已解决");
            assert_eq!(x[10].to_string(), "满意");
        }
        let deps: Vec<Vec<Data>> = wb
            .worksheet_range_at(1)
            .unwrap()
            .unwrap()
            .rows()
            .map(|r| r.to_vec())
            .collect();
        assert_eq!(deps.len(), figures.len() + 1);
        assert_eq!(deps[1][0].to_string(), "人力资源部");
        assert_eq!(deps[1][2].as_f64(), Some(1.0), "one 满意");
        assert_eq!(deps[1][5].to_string(), "100%");
    }
}

#[actix_web::test]
async fn outside_the_window_a_proposal_cannot_be_submitted_and_a_merge_tells_both_delegates() {
    let mut app = spawn_base().await;
    let (session, _, _) = app.with(setup);
    let mut ids = Vec::new();
    for (author, title) in [
        ("demo-member", "关于食堂增设夜班餐的提案"),
        ("demo-cadre-b", "建议食堂提供夜班热餐"),
    ] {
        app.login_ok(author).await;
        ids.push(draft(&mut app, session, title).await);
        app.logout().await;
    }
    for id in &ids {
        for who in ["demo-member-b", "demo-cadre"] {
            app.login_ok(who).await;
            let v = state_of(&mut app.conn(), *id).1.to_string();
            app.post(
                &format!("/proposals/{id}"),
                &[("action", "cosign"), ("version", &v)],
            )
            .await
            .assert_status(303);
            app.logout().await;
        }
    }
    app.login_ok("demo-member").await;
    let path = format!("/proposals/{}", ids[0]);
    let v = state_of(&mut app.conn(), ids[0]).1.to_string();
    app.post(&path, &[("action", "submit"), ("version", &v)])
        .await
        .assert_status(303);
    app.logout().await;
    // Two weeks on, the window has closed: the second cannot be submitted.
    app.state.config.clock.advance(15 * 86_400);
    app.login_ok("demo-cadre-b").await;
    let second = format!("/proposals/{}", ids[1]);
    let v = state_of(&mut app.conn(), ids[1]).1.to_string();
    app.post(&second, &[("action", "submit"), ("version", &v)])
        .await
        .assert_status(303);
    assert_eq!(state_of(&mut app.conn(), ids[1]).0, "draft");
    app.get(&second).await.assert_contains("不在提案征集期内");
    app.logout().await;
    // A merge: both proposals' delegates hear of it.
    let before = app.count("notifications WHERE title LIKE '%并案%'");
    app.state.config.clock.advance(-15 * 86_400);
    app.login_ok("demo-cadre-b").await;
    app.post(&second, &[("action", "submit"), ("version", &v)])
        .await
        .assert_status(303);
    app.logout().await;
    app.login_ok("demo-chair").await;
    let v = state_of(&mut app.conn(), ids[1]).1.to_string();
    // Not into itself (mutants: the "another proposal of the same session" check weakened).
    app.post(
        &second,
        &[
            ("action", "merge"),
            ("version", &v),
            ("into", &format!("#{}", ids[1])),
            ("note", "内容相同，并案办理"),
        ],
    )
    .await
    .assert_status(422)
    .assert_contains("请填写同一次职代会另一件已提交的提案的编号");
    assert_eq!(state_of(&mut app.conn(), ids[1]).0, "submitted");
    app.post(
        &second,
        &[
            ("action", "merge"),
            ("version", &v),
            ("into", &format!("#{}", ids[0])),
            ("note", "内容相同，并案办理"),
        ],
    )
    .await
    .assert_status(303);
    assert_eq!(state_of(&mut app.conn(), ids[1]).0, "merged");
    // The merged proposal points at its target and keeps the note; the target's timeline has
    // a merge line (mutants: these fields dropped).
    let merged = zhijia::proposals::model::find(&mut app.conn(), ids[1])
        .unwrap()
        .unwrap();
    assert_eq!(merged.merged_into, Some(ids[0]));
    assert_eq!(merged.decision_note.as_deref(), Some("内容相同，并案办理"));
    assert_eq!(
        app.count(&format!(
            "proposal_events WHERE proposal_id = {} AND kind = 'merge'",
            ids[0]
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "proposal_events WHERE proposal_id = {} AND body LIKE '并入提案 #{}%内容相同，并案办理' AND internal",
            ids[1], ids[0]
        )),
        1
    );
    // demo-member (author of the first), demo-cadre-b (author of the second) and the two
    // co-signers of both: four people told once each.
    assert_eq!(
        app.count("notifications WHERE title LIKE '%并案%'") - before,
        4
    );
    app.get(&format!("/proposals/{}", ids[0]))
        .await
        .assert_contains("并入提案");
    // The committee turns the first into an opinion (意见建议), audited as that, not as a
    // rejection (mutants: the decision's audit code fell through to 不予立案 unnoticed).
    let first = format!("/proposals/{}", ids[0]);
    let v = state_of(&mut app.conn(), ids[0]).1.to_string();
    app.post(
        &first,
        &[
            ("action", "convert"),
            ("version", &v),
            ("note", "属于日常工作意见，转相关部门参考办理"),
        ],
    )
    .await
    .assert_status(303);
    assert_eq!(
        app.count(&format!(
            "audit_log WHERE action = 'proposal.convert' AND object_id = '{}'",
            ids[0]
        )),
        1
    );
    assert_eq!(app.count("audit_log WHERE action = 'proposal.reject'"), 0);
    // Its note is on the timeline, as the committee's own (internal) line.
    assert_eq!(
        app.count(&format!(
            "proposal_events WHERE proposal_id = {} AND body = '属于日常工作意见，转相关部门参考办理' AND internal",
            ids[0]
        )),
        1
    );
}

#[actix_web::test]
async fn an_overdue_answer_escalates_to_the_union() {
    let mut app = spawn_base().await;
    let (session, hr, _) = app.with(setup);
    app.login_ok("demo-member").await;
    let id = draft(&mut app, session, "关于增加班车班次的提案").await;
    app.logout().await;
    for who in ["demo-member-b", "demo-cadre"] {
        app.login_ok(who).await;
        let v = state_of(&mut app.conn(), id).1.to_string();
        app.post(
            &format!("/proposals/{id}"),
            &[("action", "cosign"), ("version", &v)],
        )
        .await
        .assert_status(303);
        app.logout().await;
    }
    let path = format!("/proposals/{id}");
    app.login_ok("demo-member").await;
    let v = state_of(&mut app.conn(), id).1.to_string();
    app.post(&path, &[("action", "submit"), ("version", &v)])
        .await
        .assert_status(303);
    app.logout().await;
    app.login_ok("demo-chair").await;
    let hr = hr.to_string();
    for (action, extra) in [("accept", ("note", "")), ("assign", ("lead", hr.as_str()))] {
        let v = state_of(&mut app.conn(), id).1.to_string();
        app.post(&path, &[("action", action), ("version", &v), extra])
            .await
            .assert_status(303);
    }
    assert_eq!(state_of(&mut app.conn(), id).0, "assigned");
    // Forty days on, nobody answered: the job marks it and tells the committee.
    app.state.config.clock.advance(40 * 86_400);
    let now = app.state.config.clock.now();
    let n = zhijia::proposals::run_deadlines(&mut app.conn(), now).unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        zhijia::proposals::run_deadlines(&mut app.conn(), now).unwrap(),
        0,
        "once"
    );
    assert!(
        zhijia::proposals::model::find(&mut app.conn(), id)
            .unwrap()
            .unwrap()
            .overdue
    );
    app.session_may_end = true;
    app.login_ok("demo-member").await;
    app.get(&path)
        .await
        .assert_contains("答复已超期")
        .assert_contains("已报工会督办");
    assert!(app.count("notifications WHERE title LIKE '提案答复超期%'") >= 1);
    // The department answers late: no longer overdue. Unsatisfied twice: back once, then
    // closed (mutants: the overdue flag kept, the second reopening allowed).
    app.logout().await;
    let answer = |app_conn: &mut zhijia::db::DbConnection| state_of(app_conn, id).1.to_string();
    for round in 0..2 {
        app.login_ok("road-cadre").await;
        let v = answer(&mut app.conn());
        app.post(
            &path,
            &[
                ("action", "answer"),
                ("version", &v),
                ("grade", "C"),
                ("answer", "已与公交公司协商，早晚高峰各加一班。"),
            ],
        )
        .await
        .assert_status(303);
        let p = zhijia::proposals::model::find(&mut app.conn(), id)
            .unwrap()
            .unwrap();
        assert!(!p.overdue, "answered, round {round}");
        app.logout().await;
        app.login_ok("demo-member").await;
        let v = answer(&mut app.conn());
        app.post(
            &path,
            &[
                ("action", "rate"),
                ("version", &v),
                ("rating", "unsatisfied"),
            ],
        )
        .await
        .assert_status(303);
        app.logout().await;
        let expected = if round == 0 { "assigned" } else { "closed" };
        assert_eq!(state_of(&mut app.conn(), id).0, expected, "round {round}");
    }
}

/// Satisfied with the first answer: closed at once, never back to the department (mutants:
/// the reopening condition weakened to "or").
#[actix_web::test]
async fn a_first_answer_rated_satisfied_closes_the_proposal() {
    let mut app = spawn_base().await;
    let (session, hr, _) = app.with(setup);
    app.login_ok("demo-member").await;
    let id = draft(&mut app, session, "关于延长图书室开放时间的提案").await;
    app.logout().await;
    let path = format!("/proposals/{id}");
    for who in ["demo-member-b", "demo-cadre"] {
        app.login_ok(who).await;
        let v = state_of(&mut app.conn(), id).1.to_string();
        app.post(&path, &[("action", "cosign"), ("version", &v)])
            .await
            .assert_status(303);
        app.logout().await;
    }
    let hr = hr.to_string();
    type Step<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let steps: [Step; 5] = [
        ("demo-member", "submit", vec![]),
        ("demo-chair", "accept", vec![("note", "")]),
        ("demo-chair", "assign", vec![("lead", hr.as_str())]),
        (
            "road-cadre",
            "answer",
            vec![("grade", "A"), ("answer", "自下月起图书室晚上开放到九点。")],
        ),
        ("demo-member", "rate", vec![("rating", "satisfied")]),
    ];
    for (who, action, extra) in steps {
        app.login_ok(who).await;
        let v = state_of(&mut app.conn(), id).1.to_string();
        let mut f = vec![("action", action), ("version", v.as_str())];
        f.extend(extra);
        app.post(&path, &f).await.assert_status(303);
        app.logout().await;
    }
    let p = zhijia::proposals::model::find(&mut app.conn(), id)
        .unwrap()
        .unwrap();
    assert_eq!((p.state.as_str(), p.answers), ("closed", 1));
}

/// The administrator sets a congress up on /admin/congress: a session with its window,
/// delegates from a list (an unknown employee number is refused by line), the committee and a
/// department's handler; a cadre cannot.
#[actix_web::test]
async fn the_administrator_sets_up_a_session_its_delegates_committee_and_handlers() {
    let mut app = spawn_base().await;
    app.login_ok("demo-chair").await;
    app.get("/admin/congress").await.assert_status(403);
    app.logout().await;
    app.login_ok("demo-admin").await;
    let now = app.state.config.clock.now() + chrono::Duration::hours(8);
    let local = |d: i64| {
        (now + chrono::Duration::days(d))
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    app.post(
        "/admin/congress",
        &[
            ("action", "session"),
            ("name", "第六届第一次职工代表大会"),
            ("opens", &local(-1)),
            ("closes", &local(10)),
            ("min_cosigners", "1"),
        ],
    )
    .await
    .assert_status(303);
    let session = zhijia::proposals::model::sessions(&mut app.conn()).unwrap()[0].clone();
    assert_eq!(
        (session.name.as_str(), session.min_cosigners),
        ("第六届第一次职工代表大会", 1)
    );
    let s = session.id.to_string();
    app.post(
        "/admin/congress",
        &[
            ("action", "delegates"),
            ("session", &s),
            ("lines", "demo-member,第一代表团\nnobody,第一代表团"),
        ],
    )
    .await
    .assert_status(303);
    app.get("/admin/congress")
        .await
        .assert_contains("第 2 行：没有工号为“nobody”的会员");
    assert_eq!(
        zhijia::proposals::model::delegate_count(&mut app.conn(), session.id).unwrap(),
        0,
        "all or nothing"
    );
    app.post(
        "/admin/congress",
        &[
            ("action", "delegates"),
            ("session", &s),
            ("lines", "demo-member,第一代表团\ndemo-member-b，第一代表团"),
        ],
    )
    .await
    .assert_status(303);
    app.post(
        "/admin/congress",
        &[("action", "committee"), ("lines", "demo-chair")],
    )
    .await
    .assert_status(303);
    app.post(
        "/admin/congress",
        &[("action", "handlers"), ("lines", "road-cadre,工会办公室")],
    )
    .await
    .assert_status(303);
    let page = app.get("/admin/congress").await;
    page.assert_contains("代表 2 名")
        .assert_contains("陈志强")
        .assert_contains("工会办公室");
    app.logout().await;
    app.login_ok("demo-member").await;
    let id = draft(&mut app, session.id, "关于增设职工书屋的提案").await;
    assert_eq!(state_of(&mut app.conn(), id).0, "draft");
}
