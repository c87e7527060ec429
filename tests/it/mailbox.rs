//! 主席信箱 (issue 19): a named letter answered by the chair and seen by the writer; a letter
//! forwarded to a cadre who answers; one turned into a grievance; publication only with the
//! writer's consent and without their name; an anonymous letter leaves nothing that links it
//! to the member (the all-tables scan the anonymous grievances pass).

use crate::builders;
use crate::helpers::*;

fn company(app_conn: &mut zhijia::db::DbConnection) -> String {
    builders::unit_id(app_conn, "第一工程公司工会").to_string()
}

fn latest(conn: &mut zhijia::db::DbConnection) -> zhijia::mailbox::Letter {
    use diesel::prelude::*;
    use zhijia::db::schema::mailbox_letters as l;
    let id: i32 = zhijia::on_backend!(conn, c => l::table.select(diesel::dsl::max(l::id)).first::<Option<i32>>(c))
        .unwrap()
        .unwrap();
    {
        let r: String =
            zhijia::on_backend!(conn, c => l::table.find(id).select(l::public_ref).first(c))
                .unwrap();
        zhijia::mailbox::find(conn, &r).unwrap().unwrap()
    }
}

#[actix_web::test]
async fn a_named_letter_is_answered_forwarded_converted_and_published_only_with_consent() {
    let mut app = spawn_base().await;
    let to = company(&mut app.conn());
    app.login_ok("demo-member").await;
    app.post(
        "/mailbox",
        &[("unit_id", &to), ("subject", "食堂"), ("body", "短")],
    )
    .await
    .assert_status(422)
    .assert_contains("内容请写");
    let r = app
        .post(
            "/mailbox",
            &[
                ("unit_id", &to),
                ("subject", "建议延长食堂晚餐时间"),
                (
                    "body",
                    "项目加班的同事下班时食堂已经关门，建议晚餐供应到八点。",
                ),
                ("consent", "1"),
            ],
        )
        .await;
    r.assert_status(303);
    let letter = latest(&mut app.conn());
    assert_eq!(
        letter.member_id,
        Some(builders::user(&mut app.conn(), "demo-member").id)
    );
    app.logout().await;
    // Another union's chair does not see it; the company's chair answers and publishes it.
    app.login_ok("sub2-chair").await;
    app.get(&format!("/admin/mailbox/{}", letter.public_ref))
        .await
        .assert_status(404);
    app.logout().await;
    app.login_ok("demo-chair").await;
    let path = format!("/admin/mailbox/{}", letter.public_ref);
    app.get("/admin/mailbox")
        .await
        .assert_contains("建议延长食堂晚餐时间");
    app.post(
        &path,
        &[
            ("action", "answer"),
            ("version", "0"),
            ("answer", "已与后勤商定，下月起晚餐供应到八点。"),
        ],
    )
    .await
    .assert_status(303);
    app.post(&path, &[("action", "publish"), ("version", "1")])
        .await
        .assert_status(303);
    assert_eq!(
        app.count(&format!(
            "mailbox_events WHERE letter_id = {} AND kind = 'publish' AND body = '公开'",
            letter.id
        )),
        1
    );
    app.logout().await;
    app.login_ok("demo-member-b").await;
    let p = app.get("/mailbox/public").await;
    p.assert_status(200)
        .assert_contains("下月起晚餐供应到八点")
        .assert_contains("来信人已隐去");
    assert!(!p.body.contains("王小明"));
    app.get(&format!("/mailbox/{}", letter.public_ref))
        .await
        .assert_status(404);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get(&format!("/mailbox/{}", letter.public_ref))
        .await
        .assert_status(200)
        .assert_contains("下月起晚餐供应到八点");
    // The writer was told of the answer, with a link to their letter (mutants: a step's
    // notification emptied or misaddressed survived every test).
    let writer = app.member_id("demo-member");
    assert_eq!(
        app.count(&format!(
            "notifications WHERE member_id = {writer} AND title = '主席信箱回复：建议延长食堂晚餐时间' \
             AND link = '/mailbox/{}'",
            letter.public_ref
        )),
        1
    );
    app.get("/notifications")
        .await
        .assert_contains("主席信箱回复：建议延长食堂晚餐时间");

    // Without consent it cannot be published; forwarded to a cadre, who answers; another
    // letter becomes a grievance.
    app.post(
        "/mailbox",
        &[
            ("unit_id", &to),
            ("subject", "班车太挤"),
            ("body", "早班车经常坐不下，希望增加一辆车。"),
        ],
    )
    .await
    .assert_status(303);
    let second = latest(&mut app.conn());
    app.post(
        "/mailbox",
        &[
            ("unit_id", &to),
            ("subject", "加班费未发"),
            ("body", "三月份的加班费到现在还没有发，班组长说不清楚。"),
        ],
    )
    .await
    .assert_status(303);
    let third = latest(&mut app.conn());
    app.logout().await;
    app.login_ok("demo-chair").await;
    let cadre = builders::user(&mut app.conn(), "demo-cadre").id.to_string();
    app.post(
        &format!("/admin/mailbox/{}", second.public_ref),
        &[("action", "forward"), ("version", "0"), ("cadre", &cadre)],
    )
    .await
    .assert_status(303);
    let cases = app.count("grievances");
    app.post(
        &format!("/admin/mailbox/{}", third.public_ref),
        &[("action", "convert"), ("version", "0")],
    )
    .await
    .assert_status(303);
    assert_eq!(app.count("grievances"), cases + 1);
    assert_eq!(
        app.count("grievances WHERE title = '加班费未发' AND anonymous = FALSE"),
        1
    );
    app.logout().await;
    app.login_ok("demo-cadre").await;
    let sp = format!("/admin/mailbox/{}", second.public_ref);
    app.post(
        &sp,
        &[
            ("action", "answer"),
            ("version", "1"),
            ("answer", "下周起早班加开一辆车。"),
        ],
    )
    .await
    .assert_status(303);
    // Publishing is the chair's step (the forwarded cadre is refused), and without the
    // writer's consent the chair cannot either.
    app.post(&sp, &[("action", "publish"), ("version", "2")])
        .await
        .assert_status(403);
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.post(&sp, &[("action", "publish"), ("version", "2")])
        .await
        .assert_status(303);
    assert!(
        !zhijia::mailbox::find(&mut app.conn(), &second.public_ref)
            .unwrap()
            .unwrap()
            .published,
        "no consent, not published"
    );
    // Without consent it cannot become a proposal suggestion either.
    app.post(
        &format!("/admin/mailbox/{}", second.public_ref),
        &[("action", "suggest"), ("version", "2")],
    )
    .await
    .assert_status(303);
    assert_eq!(
        zhijia::mailbox::find(&mut app.conn(), &second.public_ref)
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "answered"
    );
    app.logout().await;
    // With consent, offered to the congress delegates: they see its text, not its writer.
    app.login_ok("demo-member").await;
    app.post(
        "/mailbox",
        &[
            ("unit_id", &to),
            ("subject", "建议设立职工书屋"),
            ("body", "园区没有读书的地方，建议在活动中心设立职工书屋。"),
            ("consent", "1"),
        ],
    )
    .await
    .assert_status(303);
    let fourth = latest(&mut app.conn());
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.post(
        &format!("/admin/mailbox/{}", fourth.public_ref),
        &[("action", "suggest"), ("version", "0")],
    )
    .await
    .assert_status(303);
    assert_eq!(
        zhijia::mailbox::find(&mut app.conn(), &fourth.public_ref)
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "suggested"
    );
    app.logout().await;
    app.with(|c, now| {
        use zhijia::proposals::model as m;
        let s = m::insert_session(
            c,
            "第五届第三次职代会",
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(9),
            2,
            now,
        )
        .unwrap();
        let d = builders::user(c, "demo-member-b").id;
        m::add_delegate(c, s, d, "第一代表团").unwrap();
    });
    app.login_ok("demo-member-b").await;
    let p = app.get("/proposals").await;
    p.assert_status(200)
        .assert_contains("来自主席信箱的提案建议")
        .assert_contains("在活动中心设立职工书屋");
    let (_, section) = p.body.split_once("来自主席信箱的提案建议").unwrap();
    assert!(!section.contains("王小明"), "the writer is not shown");
}

#[actix_web::test]
async fn an_anonymous_letter_leaves_nothing_that_links_it_to_the_member() {
    let mut app = spawn_base().await;
    let to = company(&mut app.conn());
    app.login_ok("demo-member").await;
    let member = app.member_id("demo-member");
    let session_hash = zhijia::auth::hash_token(&app.cookies["zj_session"]);
    app.get("/mailbox").await;
    let before: std::collections::HashSet<String> = crate::grievances::dump_all(&mut app.conn())
        .into_iter()
        .collect();
    let r = app
        .post(
            "/mailbox",
            &[
                ("unit_id", &to),
                ("subject", "反映班组长作风问题"),
                ("body", "班组长经常当众辱骂职工，大家敢怒不敢言。"),
                ("anonymous", "1"),
            ],
        )
        .await;
    r.assert_status(200).assert_contains("回执码");
    let receipt = regex_lite::Regex::new(r#"<p class="secret">([0-9A-Z-]+)</p>"#)
        .unwrap()
        .captures(&r.body)
        .unwrap()[1]
        .to_string();
    let now = app.state.config.clock.now();
    let after = crate::grievances::dump_all(&mut app.conn());
    let new_rows: Vec<&String> = after.iter().filter(|r| !before.contains(*r)).collect();
    assert!(new_rows.iter().any(|r| r.starts_with("mailbox_letters:")));
    let exact_time = now.format("%H:%M:%S").to_string();
    for row in &new_rows {
        for needle in [
            "王小明",
            "demo-member",
            session_hash.as_str(),
            exact_time.as_str(),
            &format!("member_id={member} "),
            &format!("author_id={member} "),
            &format!("actor_id={member} "),
        ] {
            assert!(
                !row.contains(needle),
                "new row links the anonymous letter to the member ({needle}):\n{row}"
            );
        }
    }
    // The chair answers; the writer reads it with the receipt, logged out.
    app.logout().await;
    app.login_ok("demo-chair").await;
    let letter = latest(&mut app.conn());
    assert_eq!((letter.member_id, letter.anonymous), (None, true));
    app.get(&format!("/admin/mailbox/{}", letter.public_ref))
        .await
        .assert_contains("匿名会员");
    app.post(
        &format!("/admin/mailbox/{}", letter.public_ref),
        &[
            ("action", "answer"),
            ("version", "0"),
            ("answer", "已约谈该班组长，并在班组会上公开道歉。"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.post("/mailbox/track", &[("receipt", &receipt)])
        .await
        .assert_status(200)
        .assert_contains("已约谈该班组长");
    app.post("/mailbox/track", &[("receipt", "AAAA-BBBB-CCCC-DDDD")])
        .await
        .assert_status(303);
}

/// The letter names the writer's own grid cadre: turned into a case, it goes to the union it was
/// addressed to with no handler, and the cadre is neither given it nor told; the chair is the
/// actor in the audit log.
#[actix_web::test]
async fn a_letter_turned_into_a_case_is_not_routed_to_the_writers_grid_cadre() {
    let mut app = spawn_base().await;
    let to = company(&mut app.conn());
    app.login_ok("demo-member").await;
    app.post(
        "/mailbox",
        &[
            ("unit_id", &to),
            ("subject", "反映网格干部刁难"),
            ("body", "我的网格干部多次刁难我办理困难补助，请主席过问。"),
        ],
    )
    .await
    .assert_status(303);
    let letter = latest(&mut app.conn());
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.post(
        &format!("/admin/mailbox/{}", letter.public_ref),
        &[("action", "convert"), ("version", "0")],
    )
    .await
    .assert_status(303);
    app.logout().await;
    let cadre = app.member_id("demo-cadre");
    let chair = app.member_id("demo-chair");
    assert_eq!(
        app.count(&format!(
            "grievances WHERE title = '反映网格干部刁难' AND unit_id = {to} AND handler_id IS NULL"
        )),
        1,
        "filed in the addressed union without a handler"
    );
    assert_eq!(
        app.count(&format!(
            "notifications WHERE member_id = {cadre} AND title LIKE '%反映网格干部刁难%'"
        )),
        0
    );
    assert_eq!(
        app.count(&format!(
            "audit_log WHERE action = 'grievance.submit' AND object_type = 'grievance' AND actor_id = {chair}"
        )),
        1
    );
    app.login_ok("demo-cadre").await;
    for page in ["/admin/grievances", "/admin/inbox", "/notifications"] {
        let body = app.get(page).await.body;
        assert!(
            !body.contains("反映网格干部刁难"),
            "the accused cadre sees it on {page}"
        );
    }
}

/// Named and anonymous letters interleaved: nothing the chair can read (links, list order,
/// notifications) carries a sequence that places the anonymous one between the named ones.
#[actix_web::test]
async fn anonymous_letters_carry_no_sequence_a_chair_can_see() {
    let mut app = spawn_base().await;
    let to = company(&mut app.conn());
    app.login_ok("demo-member").await;
    for (subject, anonymous) in [
        ("第一封实名来信", ""),
        ("中间的匿名来信", "1"),
        ("第三封实名来信", ""),
    ] {
        let r = app
            .post(
                "/mailbox",
                &[
                    ("unit_id", &to),
                    ("subject", subject),
                    ("body", "这是一封用来检查顺序的来信内容。"),
                    ("anonymous", anonymous),
                ],
            )
            .await;
        assert!(r.status == 303 || r.status == 200, "{}", r.status);
    }
    app.logout().await;
    app.login_ok("demo-chair").await;
    let ids: Vec<i32> = app.with(|c, _| {
        use diesel::prelude::*;
        use zhijia::db::schema::mailbox_letters as l;
        zhijia::on_backend!(c, c => l::table.select(l::id).load(c)).unwrap()
    });
    let num = regex_lite::Regex::new(r#"href="/(admin/mailbox|notifications)/([^"?]+)""#).unwrap();
    for page in ["/admin/mailbox", "/notifications"] {
        let body = app.get(page).await.body;
        let refs: Vec<String> = num.captures_iter(&body).map(|c| c[2].to_string()).collect();
        assert!(refs.len() >= 3, "{page}: {refs:?}");
        for r in &refs {
            assert!(
                r.len() >= 12 && !ids.iter().any(|i| i.to_string() == *r),
                "{page} links by a sequence: {r}"
            );
        }
        // The anonymous letter (stamped with its day) is never listed between the named ones.
        let pos = |s: &str| body.find(s).unwrap_or_else(|| panic!("{page}: {s}"));
        let (a, m, b) = (
            pos("第一封实名来信"),
            pos("中间的匿名来信"),
            pos("第三封实名来信"),
        );
        assert!(
            !(a.min(b) < m && m < a.max(b)),
            "{page} places the anonymous letter"
        );
    }
}

/// One member's flood: quota'd at the tenth letter with a 429 that says when; letters to
/// another union cannot push the chair's own letters off the list either.
#[actix_web::test]
async fn a_flood_of_letters_neither_gets_through_nor_hides_earlier_ones() {
    let mut app = spawn_base().await;
    let to = company(&mut app.conn());
    app.login_ok("demo-member-b").await;
    app.post(
        "/mailbox",
        &[
            ("unit_id", &to),
            ("subject", "更早的一封来信"),
            ("body", "这是洪水之前的一封正常来信。"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    let mut statuses = Vec::new();
    for i in 0..30 {
        let subject = format!("刷屏来信{i}");
        let r = app
            .post(
                "/mailbox",
                &[
                    ("unit_id", &to),
                    ("subject", &subject),
                    ("body", "这是一封刷屏的来信，用来挤掉别人的来信。"),
                ],
            )
            .await;
        statuses.push(r.status);
        if r.status == 429 {
            r.assert_contains("已达上限").assert_contains("后再试");
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        10,
        "{statuses:?}"
    );
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    // Found by review: a percent-encoded path reaches the same handler, so it meets the same
    // quota.
    app.post(
        "/%6Dailbox",
        &[
            ("unit_id", &to),
            ("subject", "绕过限额"),
            ("body", "换一种写法的路径也应当受到同样的限额。"),
        ],
    )
    .await
    .assert_status(429);
    app.logout().await;
    // 520 letters to the group's union (as if from many members) stay out of the company
    // chair's list; the company's own letters are all there.
    app.with(|c, now| {
        use diesel::prelude::*;
        use zhijia::db::schema::mailbox_letters as l;
        let root = builders::unit_id(c, "中建华能集团工会");
        for i in 0..520 {
            zhijia::on_backend!(c, c => diesel::insert_into(l::table)
                .values((
                    l::member_id.eq(None::<i32>),
                    l::anonymous.eq(true),
                    l::unit_id.eq(root),
                    l::subject.eq(format!("给集团的来信{i}")),
                    l::body.eq("内容"),
                    l::state.eq("new"),
                    l::consent_publish.eq(false),
                    l::created_at.eq(now),
                    l::updated_at.eq(now),
                    l::public_ref.eq(format!("flood{i:08}")),
                ))
                .execute(c))
            .unwrap();
        }
    });
    app.login_ok("demo-chair").await;
    let first = app.get("/admin/mailbox").await;
    first.assert_status(200);
    let all = first.body.clone();
    assert!(all.contains("更早的一封来信"));
    assert!(!all.contains("给集团的来信"));
    assert_eq!(all.matches("刷屏来信").count(), 10);
}

/// Found by review: the cadre a letter was forwarded to may answer it, but not turn it into a
/// case, offer it to the congress or publish it (a direct POST is refused).
#[actix_web::test]
async fn a_forwarded_cadre_answers_but_takes_no_chairs_step() {
    let mut app = spawn_base().await;
    let to = company(&mut app.conn());
    app.login_ok("demo-member").await;
    app.post(
        "/mailbox",
        &[
            ("unit_id", &to),
            ("subject", "转交后的来信"),
            ("body", "这是一封会被转交给干部办理的来信。"),
            ("consent", "1"),
        ],
    )
    .await
    .assert_status(303);
    let letter = latest(&mut app.conn());
    app.logout().await;
    app.login_ok("demo-chair").await;
    let cadre = builders::user(&mut app.conn(), "demo-cadre").id.to_string();
    let path = format!("/admin/mailbox/{}", letter.public_ref);
    // A cadre of another union is no forwarding target (mutants: the unit check survived).
    let elsewhere = builders::user(&mut app.conn(), "road-cadre").id.to_string();
    app.post(
        &path,
        &[
            ("action", "forward"),
            ("version", "0"),
            ("cadre", &elsewhere),
        ],
    )
    .await
    .assert_status(422)
    .assert_contains("请选择本单位的工会干部");
    assert_eq!(latest(&mut app.conn()).version, 0, "nothing changed");
    app.post(
        &path,
        &[("action", "forward"), ("version", "0"), ("cadre", &cadre)],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-cadre").await;
    for action in ["convert", "suggest", "publish"] {
        app.post(&path, &[("action", action), ("version", "1")])
            .await
            .assert_status(403);
    }
    assert_eq!(app.count("grievances WHERE title = '转交后的来信'"), 0);
    app.post(
        &path,
        &[
            ("action", "answer"),
            ("version", "1"),
            ("answer", "已了解，下周答复。"),
        ],
    )
    .await
    .assert_status(303);
    // The answer is on the letter's timeline, by its author (mutants: a step's timeline
    // text emptied survived).
    assert_eq!(
        app.count(&format!(
            "mailbox_events WHERE letter_id = {} AND body = '已了解，下周答复。'",
            letter.id
        )),
        1
    );
}

/// Each of the chair's steps leaves its line on the letter's timeline and tells whom it
/// concerns: the cadre a letter is forwarded to, the writer of a letter turned into a case or
/// a proposal suggestion (mutants: a step's timeline text or notification emptied survived
/// every other test).
#[actix_web::test]
async fn every_step_leaves_its_line_and_tells_whom_it_concerns() {
    let mut app = spawn_base().await;
    let to = company(&mut app.conn());
    app.login_ok("demo-member").await;
    let writer = app.member_id("demo-member");
    let mut letters = Vec::new();
    for subject in ["步骤一转交", "步骤二转申诉", "步骤三转建议"] {
        app.post(
            "/mailbox",
            &[
                ("unit_id", &to),
                ("subject", subject),
                ("body", "这是一封用来检查每个步骤记录的来信。"),
                ("consent", "1"),
            ],
        )
        .await
        .assert_status(303);
        letters.push(latest(&mut app.conn()));
    }
    app.logout().await;
    app.login_ok("demo-chair").await;
    let cadre = builders::user(&mut app.conn(), "demo-cadre");
    let admin_path = |l: &zhijia::mailbox::Letter| format!("/admin/mailbox/{}", l.public_ref);
    let cadre_id = cadre.id.to_string();
    for (l, action) in letters.iter().zip(["forward", "convert", "suggest"]) {
        app.post(
            &admin_path(l),
            &[("action", action), ("version", "0"), ("cadre", &cadre_id)],
        )
        .await
        .assert_status(303);
    }
    let lines = [
        format!("转交 {} 办理", cadre.name),
        "已转为维权申诉，按申诉流程办理".to_string(),
        "已转为职代会提案建议，供代表参考提出提案".to_string(),
    ];
    for (l, body) in letters.iter().zip(&lines) {
        assert_eq!(
            app.count(&format!(
                "mailbox_events WHERE letter_id = {} AND body = '{body}'",
                l.id
            )),
            1,
            "{body}"
        );
    }
    let told = |m: i32, title: &str, link: &str| {
        format!("notifications WHERE member_id = {m} AND title = '{title}' AND link = '{link}'")
    };
    assert_eq!(
        app.count(&told(
            cadre.id,
            "主席信箱转交：步骤一转交",
            &admin_path(&letters[0])
        )),
        1
    );
    for l in &letters[1..] {
        assert_eq!(
            app.count(&told(
                writer,
                &format!("主席信箱回复：{}", l.subject),
                &format!("/mailbox/{}", l.public_ref)
            )),
            1,
            "{}",
            l.subject
        );
    }
}
