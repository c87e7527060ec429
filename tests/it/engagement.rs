//! 智慧决策: engagement events (which actions, never anonymous ones), rollups, the dashboard's
//! figures against direct SQL, its scope, and the forecast on the activity form.

use diesel::prelude::*;
use zhijia::db::schema::engagement_events as ev;

use crate::helpers::*;

fn events_of(app_conn: &mut zhijia::db::PooledConn, key: &str) -> Vec<(String, String)> {
    ev::table
        .filter(ev::member_key.eq(key))
        .select((ev::object_type, ev::action))
        .load(app_conn)
        .unwrap()
}

#[actix_web::test]
async fn events_are_recorded_for_the_listed_actions_and_never_for_anonymous_flows() {
    let mut app = spawn_base().await;
    let secret = app.state.config.secret_key.clone();
    let now = app.state.config.clock.now();
    let a = zhijia::org::model::find_by_name(&mut app.conn(), "机关分会").unwrap()[0]
        .id
        .to_string();
    // An activity starting in 30 minutes (check-in open) and an approved showcase post.
    app.login_ok("demo-cadre").await;
    let local =
        |m: i64| zhijia::activities::service::to_local(&(now + chrono::Duration::minutes(m)));
    let r = app
        .post(
            "/admin/activities/new",
            &[
                ("title", "午休瑜伽"),
                ("kind", "文体活动"),
                ("place", "健身房"),
                ("starts_at", &local(30)),
                ("ends_at", &local(90)),
                ("capacity", "10"),
                ("audience", &a),
            ],
        )
        .await;
    let act: i32 = r
        .location()
        .trim_start_matches("/admin/activities/")
        .parse()
        .unwrap();
    let closes = local(60 * 24 * 3);
    let named = {
        let r = app
            .post(
                "/admin/surveys/new",
                &[
                    ("title", "实名投票"),
                    ("source", "[单选] 选哪天 *\n周一\n周二"),
                    ("closes_at", &closes),
                    ("results_visibility", "after_answer"),
                    ("audience", &a),
                ],
            )
            .await;
        r.location()
            .trim_start_matches("/admin/surveys/")
            .parse::<i32>()
            .unwrap()
    };
    let anon = {
        let r = app
            .post(
                "/admin/surveys/new",
                &[
                    ("title", "匿名评议"),
                    ("source", "[单选] 满意吗 *\n满意\n不满意"),
                    ("closes_at", &closes),
                    ("results_visibility", "after_close"),
                    ("anonymous", "1"),
                    ("audience", &a),
                ],
            )
            .await;
        r.location()
            .trim_start_matches("/admin/surveys/")
            .parse::<i32>()
            .unwrap()
    };
    app.logout().await;
    let post = app.with(|c, now| showcase_post(c, now, "demo-member-b", "阳台花园", true));
    let news = app.with(|c, now| article(c, now, "第一工程公司工会", "送温暖通知", "正文", true));
    let s = &app.members_with_sessions("机关分会", "EV", 1)[0];
    let key = zhijia::engagement::member_key(&secret, s.member_id);
    assert_eq!(app.get_as(s, "/", None).await, 200);
    assert_eq!(app.get_as(s, "/news", None).await, 200);
    assert_eq!(
        app.get_as(s, &format!("/news/{news}"), Some("/news")).await,
        200
    );
    assert_eq!(app.get_as(s, &format!("/news/{news}"), None).await, 200);
    assert_eq!(
        app.post_as(s, &format!("/activities/{act}/signup"), &[])
            .await,
        303
    );
    assert_eq!(
        app.post_as(s, &format!("/activities/{act}/cancel"), &[])
            .await,
        303
    );
    assert_eq!(
        app.post_as(s, &format!("/activities/{act}/signup"), &[])
            .await,
        303
    );
    let activity = zhijia::activities::model::find(&mut app.conn(), act)
        .unwrap()
        .unwrap();
    let token = zhijia::activities::service::checkin_token(
        &secret,
        &activity,
        zhijia::activities::service::window_of(now),
    );
    assert_eq!(
        app.post_as(s, &format!("/activities/{act}/checkin"), &[("t", &token)])
            .await,
        303
    );
    assert_eq!(
        app.post_as(s, &format!("/showcase/{post}/like"), &[]).await,
        303
    );
    assert_eq!(
        app.post_as(
            s,
            &format!("/showcase/{post}/comments"),
            &[("body", "点赞！")]
        )
        .await,
        303
    );
    let q_named = zhijia::surveys::model::questions(&mut app.conn(), named).unwrap()[0].id;
    let q_anon = zhijia::surveys::model::questions(&mut app.conn(), anon).unwrap()[0].id;
    assert_eq!(app.get_as(s, &format!("/surveys/{named}"), None).await, 200);
    assert_eq!(
        app.post_as(
            s,
            &format!("/surveys/{named}"),
            &[(&format!("q{q_named}"), "0")]
        )
        .await,
        303
    );
    // Anonymous flows: an anonymous survey (view + answer) and an anonymous grievance.
    assert_eq!(app.get_as(s, &format!("/surveys/{anon}"), None).await, 200);
    assert_eq!(
        app.post_as(
            s,
            &format!("/surveys/{anon}"),
            &[(&format!("q{q_anon}"), "1")]
        )
        .await,
        303
    );
    assert_eq!(app.get_as(s, "/grievances/new", None).await, 200);
    let grievances_before = app.count("grievances");
    assert_eq!(
        app.post_multipart_as(
            s,
            "/grievances/new",
            &[
                ("submit_token", &zhijia::auth::random_token(16)),
                ("category", "pay"),
                ("title", "匿名：事件记录测试"),
                ("description", "说明"),
                ("desired_outcome", "结果"),
                ("anonymous", "1"),
                ("unit_id", &a),
            ],
        )
        .await,
        200,
        "the receipt page"
    );
    assert_eq!(app.count("grievances"), grievances_before + 1);
    assert_eq!(
        app.post_as(
            s,
            "/grievances/track",
            &[("receipt", "AAAA-BBBB-CCCC-DDDD")]
        )
        .await,
        422
    );
    app.state.events.flush(&mut app.conn()).unwrap();

    let got = events_of(&mut app.conn(), &key);
    let has = |ot: &str, action: &str| got.iter().any(|(o, a)| o == ot && a == action);
    for (ot, action) in [
        ("home", "view"),
        ("news", "view"),
        ("news", "click"),
        ("activity", "signup"),
        ("activity", "cancel"),
        ("activity", "checkin"),
        ("showcase", "like"),
        ("showcase", "reply"),
        ("survey", "view"),
        ("survey", "vote"),
    ] {
        assert!(has(ot, action), "missing {ot}/{action} in {got:?}");
    }
    assert_eq!(
        got.iter()
            .filter(|(o, a)| o == "survey" && a == "vote")
            .count(),
        1,
        "only the named vote"
    );
    assert!(!got.iter().any(|(o, _)| o.contains("grievance")));
    let anon_rows: i64 = ev::table
        .filter(ev::object_type.eq("survey"))
        .filter(ev::object_id.eq(anon))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(anon_rows, 0, "nothing about the anonymous survey");
    // Hours only, device class from the User-Agent, the member's unit, no member id anywhere.
    let rows: Vec<(chrono::NaiveDateTime, String, String, i32)> = ev::table
        .filter(ev::member_key.eq(&key))
        .select((ev::hour, ev::object_type, ev::device, ev::unit_id))
        .load(&mut app.conn())
        .unwrap();
    assert!(rows
        .iter()
        .all(|(h, _, _, _)| h.format("%M:%S").to_string() == "00:00"));
    // GETs came from an iPhone User-Agent, the test's POSTs from none (desktop).
    assert!(rows.iter().any(|(_, o, d, _)| o == "home" && d == "phone"));
    assert!(rows
        .iter()
        .any(|(_, o, d, _)| o == "showcase" && d == "desktop"));
    let unit = zhijia::org::model::find_by_name(&mut app.conn(), "机关分会").unwrap()[0].id;
    assert!(rows.iter().all(|(_, _, _, u)| *u == unit));
    assert_eq!(key.len(), 20);
}

#[actix_web::test]
async fn rollups_equal_the_raw_counts() {
    let app = spawn_base().await;
    let now = app.state.config.clock.now();
    let secret = app.state.config.secret_key.clone();
    app.with(|c, now| engagement_history(c, now, &secret));
    let mut conn = app.conn();
    zhijia::engagement::housekeeping(&mut conn, now).unwrap();
    let today = zhijia::engagement::rollup_horizon(now);
    // Every finished day: the rollup sums equal the raw events of that Beijing day, per group.
    let raw = zhijia::engagement::model::between(
        &mut conn,
        now - chrono::Duration::days(200),
        zhijia::engagement::model::day_start(today),
        None,
    )
    .unwrap();
    let daily = zhijia::engagement::model::daily(
        &mut conn,
        today - chrono::Duration::days(200),
        today,
        None,
    )
    .unwrap();
    let mut from_raw: std::collections::HashMap<
        (chrono::NaiveDate, i32, String, String, String),
        i64,
    > = Default::default();
    for r in &raw {
        let day = (r.hour + chrono::Duration::hours(8)).date();
        *from_raw
            .entry((
                day,
                r.unit_id,
                r.object_type.clone(),
                r.action.clone(),
                r.device.clone(),
            ))
            .or_default() += 1;
    }
    let from_daily: std::collections::HashMap<_, i64> = daily
        .into_iter()
        .filter(|d| {
            d.0 >= (now - chrono::Duration::days(200) + chrono::Duration::hours(8)).date()
                + chrono::Duration::days(1)
        })
        .map(|(d, u, o, a, dev, n)| ((d, u, o, a, dev), i64::from(n)))
        .collect();
    let from_raw: std::collections::HashMap<_, i64> = from_raw
        .into_iter()
        .filter(|(k, _)| {
            k.0 >= (now - chrono::Duration::days(200) + chrono::Duration::hours(8)).date()
                + chrono::Duration::days(1)
        })
        .collect();
    assert!(
        from_raw.len() > 1000,
        "the history has events: {}",
        from_raw.len()
    );
    assert_eq!(from_daily, from_raw);
    // Raw events past retention go; their rollups stay.
    let before: i64 = zhijia::db::schema::engagement_daily::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    zhijia::settings::set(&mut conn, "events_retention_months", "1", now).unwrap();
    let (_, purged) = zhijia::engagement::housekeeping(&mut conn, now).unwrap();
    assert!(purged > 0);
    let oldest: Option<chrono::NaiveDateTime> = ev::table
        .select(diesel::dsl::min(ev::hour))
        .first(&mut conn)
        .unwrap();
    assert!(oldest.unwrap() >= now - chrono::Duration::days(30));
    let after: i64 = zhijia::db::schema::engagement_daily::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(before, after);
}

#[actix_web::test]
async fn dashboard_figures_equal_direct_sql_and_stay_in_the_cadres_subtree() {
    let mut app = spawn_base().await;
    let now = app.state.config.clock.now();
    let secret = app.state.config.secret_key.clone();
    app.with(|c, now| {
        engagement_history(c, now, &secret);
        zhijia::engagement::housekeeping(c, now).unwrap();
    });
    let cadre = zhijia::auth::user::load_user(&mut app.conn(), app.member_id("demo-cadre"), "")
        .unwrap()
        .unwrap();
    let scope: Vec<i32> = zhijia::org::scope::managed_unit_ids(&mut app.conn(), &cadre)
        .unwrap()
        .unwrap();
    let b_unit = zhijia::org::model::find_by_name(&mut app.conn(), "项目一部分会").unwrap()[0].id;
    assert!(!scope.contains(&b_unit));
    // Direct SQL.
    let distinct = |conn: &mut zhijia::db::PooledConn, days: i64| -> i64 {
        ev::table
            .filter(ev::hour.ge(now - chrono::Duration::days(days)))
            .filter(ev::unit_id.eq_any(scope.clone()))
            .select(ev::member_key)
            .distinct()
            .load::<String>(conn)
            .unwrap()
            .len() as i64
    };
    let mut conn = app.conn();
    let active7 = distinct(&mut conn, 7);
    let active30 = distinct(&mut conn, 30);
    let members: i64 = zhijia::db::schema::members::table
        .filter(zhijia::db::schema::members::unit_id.eq_any(scope.clone()))
        .filter(zhijia::db::schema::members::disabled.eq(false))
        .count()
        .get_result(&mut conn)
        .unwrap();
    let open_cases: i64 = zhijia::db::schema::grievances::table
        .filter(zhijia::db::schema::grievances::unit_id.eq_any(scope.clone()))
        .filter(
            zhijia::db::schema::grievances::state.eq_any(zhijia::grievances::model::OPEN_STATES),
        )
        .count()
        .get_result(&mut conn)
        .unwrap();
    drop(conn);
    let f = zhijia::engagement::dashboard::compute(&mut app.conn(), &cadre, now).unwrap();
    assert!(active30 > 0);
    assert_eq!(
        (f.active7, f.active30, f.members, f.open_cases),
        (active7, active30, members, open_cases)
    );
    app.login_ok("demo-cadre").await;
    let page = app.get("/admin/dashboard").await;
    page.assert_status(200)
        .assert_contains(&format!("<span class=\"stat-num\">{active7}</span>"))
        .assert_contains(&format!("<span class=\"stat-num\">{active30}</span>"))
        .assert_contains("<svg class=\"chart heat\"");
    // The heat map in words for screen readers: its busiest cell, with the count.
    let (busiest, day, hour) = f
        .heat
        .iter()
        .enumerate()
        .flat_map(|(d, row)| row.iter().enumerate().map(move |(h, n)| (*n, d, h)))
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)))
        .unwrap();
    let days = ["一", "二", "三", "四", "五", "六", "日"];
    page.assert_contains(&format!(
        "最活跃的时段：周{} {hour} 时（{busiest} 次）",
        days[day]
    ));
    // Nothing of branch B: its name is absent and its events do not move A's figures.
    assert!(!page.body.contains("项目一部分会"));
    let b = app.members_with_sessions("项目一部分会", "BB", 3);
    for s in &b {
        app.get_as(s, "/", None).await;
    }
    app.state.events.flush(&mut app.conn()).unwrap();
    let f2 = zhijia::engagement::dashboard::compute(&mut app.conn(), &cadre, now).unwrap();
    assert_eq!((f2.active7, f2.active30), (f.active7, f.active30));
    let chair = zhijia::auth::user::load_user(&mut app.conn(), app.member_id("demo-chair"), "")
        .unwrap()
        .unwrap();
    let fc = zhijia::engagement::dashboard::compute(&mut app.conn(), &chair, now).unwrap();
    assert!(
        fc.active7 >= f.active7 + 3,
        "the chair above both branches sees B's new visitors"
    );
    let x = app.get("/admin/dashboard.xlsx").await;
    x.assert_status(200);
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(x.bytes.clone())).unwrap();
    let units = wb.worksheet_range("各单位").unwrap();
    assert!(!units.rows().any(|r| r[0] == "项目一部分会"));
    assert!(units.rows().count() > 1);
    // Members have no dashboard.
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get("/admin/dashboard").await.assert_status(403);
}

/// (On the demo: the forecast needs a real history of activities and sign-ups to train on.)
#[actix_web::test]
async fn the_activity_form_forecasts_without_saving() {
    let mut app = spawn_demo().await;
    let now = app.state.config.clock.now();
    let a = zhijia::org::model::find_by_name(&mut app.conn(), "第一工程公司工会").unwrap()[0]
        .id
        .to_string();
    let local =
        |m: i64| zhijia::activities::service::to_local(&(now + chrono::Duration::minutes(m)));
    let before = app.count("activities");
    app.train_forecast();
    app.login_ok("demo-chair").await;
    let r = app
        .post(
            "/admin/activities/new",
            &[
                ("title", "周末亲子运动会"),
                ("kind", "亲子活动"),
                ("place", "体育馆"),
                ("starts_at", &local(60 * 24 * 9)),
                ("ends_at", &local(60 * 24 * 9 + 180)),
                ("capacity", "40"),
                ("audience", &a),
                ("action", "forecast"),
            ],
        )
        .await;
    r.assert_status(200)
        .assert_contains("报名预测")
        .assert_contains("最相似的往期活动")
        .assert_contains("回测最近")
        .assert_contains("周末亲子运动会");
    assert_eq!(app.count("activities"), before, "a forecast saves nothing");
    let expected: i64 = regex_lite::Regex::new(r#"<span class="big">(\d+)</span>"#)
        .unwrap()
        .captures(&r.body)
        .unwrap()[1]
        .parse()
        .unwrap();
    assert!(expected > 0 && expected < 200, "{expected}");
    assert!(
        !r.body.contains("<tbody></tbody>"),
        "the forecast shows the similar past activities it rests on"
    );
}

/// The best time to publish: the form lists the three best other start times in the next four
/// weeks, best first, each with its expected sign-ups and one line on why; moving the activity
/// to the best one and asking again forecasts what the list promised.
#[actix_web::test]
async fn the_activity_form_shows_the_best_other_times_and_they_hold_when_chosen() {
    use chrono::Datelike;
    let mut app = spawn_demo().await;
    let now = app.state.config.clock.now();
    let a = zhijia::org::model::find_by_name(&mut app.conn(), "第一工程公司工会").unwrap()[0]
        .id
        .to_string();
    app.train_forecast();
    app.login_ok("demo-chair").await;
    let ask = |starts: chrono::NaiveDateTime| {
        let a = a.clone();
        let local = |t: chrono::NaiveDateTime| zhijia::activities::service::to_local(&t);
        vec![
            ("title".to_string(), "职工羽毛球联赛".to_string()),
            ("kind".into(), "文体活动".into()),
            ("place".into(), "体育馆".into()),
            ("starts_at".into(), local(starts)),
            ("ends_at".into(), local(starts + chrono::Duration::hours(2))),
            ("capacity".into(), "60".into()),
            ("audience".into(), a),
            ("action".into(), "forecast".into()),
        ]
    };
    // Beijing 07:00 on a weekday eight days on: an hour nobody picks.
    let early = (now + chrono::Duration::days(8))
        .date()
        .and_hms_opt(23, 0, 0)
        .unwrap();
    let form = ask(early);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = app.post("/admin/activities/new", &pairs).await;
    r.assert_status(200).assert_contains("换个时间？");
    let slot = regex_lite::Regex::new(
        r"<li>周. (\d\d):(\d\d)（(\d+)月(\d+)日）：预计 <strong>(\d+)</strong> 人</li>",
    )
    .unwrap();
    let slots: Vec<(chrono::NaiveDateTime, i64)> = slot
        .captures_iter(&r.body)
        .map(|c| {
            let n = |i: usize| c[i].parse::<u32>().unwrap();
            let local_now = now + chrono::Duration::hours(8);
            let mut day = chrono::NaiveDate::from_ymd_opt(local_now.year(), n(3), n(4)).unwrap();
            if day < local_now.date() {
                day = chrono::NaiveDate::from_ymd_opt(local_now.year() + 1, n(3), n(4)).unwrap();
            }
            let local = day.and_hms_opt(n(1), n(2), 0).unwrap();
            (local - chrono::Duration::hours(8), c[5].parse().unwrap())
        })
        .collect();
    assert_eq!(slots.len(), 3, "{}", r.body);
    assert!(
        slots.windows(2).all(|w| w[0].1 >= w[1].1),
        "best first: {slots:?}"
    );
    for (t, _) in &slots {
        assert!(
            *t > now && *t <= now + chrono::Duration::days(29),
            "{t} in the next four weeks"
        );
    }
    let big = regex_lite::Regex::new(r#"<span class="big">(\d+)</span>"#).unwrap();
    let at_early: i64 = big.captures(&r.body).unwrap()[1].parse().unwrap();
    assert!(
        slots[0].1 >= at_early,
        "the best other time is no worse than 07:00"
    );
    assert!(
        r.body.contains("报名率比") || r.body.contains("相差不大"),
        "one line on why"
    );
    let form = ask(slots[0].0);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let moved = app.post("/admin/activities/new", &pairs).await;
    moved.assert_status(200);
    let there: i64 = big.captures(&moved.body).unwrap()[1].parse().unwrap();
    assert_eq!(there, slots[0].1, "the list's figure for that time");
}

/// The chair's dashboard on the demo: four SVG charts, unit activity rates that differ, and
/// most/least engaged lists that never share a unit.
#[actix_web::test]
async fn the_chairs_dashboard_on_the_demo_draws_four_charts_and_units_differ() {
    let mut app = spawn_demo().await;
    app.login_ok("demo-chair").await;
    let page = app.get("/admin/dashboard").await;
    page.assert_status(200);
    let charts = page.body.matches("<svg class=\"chart").count();
    assert!(charts >= 4, "{charts} charts");
    let rates: std::collections::BTreeSet<String> =
        regex_lite::Regex::new(r#"<td data-label="活跃率">(\d+%)</td>"#)
            .unwrap()
            .captures_iter(&page.body)
            .map(|c| c[1].to_string())
            .collect();
    assert!(rates.len() >= 3, "unit activity rates: {rates:?}");
    let lists: Vec<Vec<String>> = regex_lite::Regex::new(r"(?s)<ol>(.*?)</ol>")
        .unwrap()
        .captures_iter(&page.body)
        .map(|c| {
            regex_lite::Regex::new(r"<li>([^<]+) <strong>")
                .unwrap()
                .captures_iter(&c[1])
                .map(|l| l[1].trim().to_string())
                .collect()
        })
        .collect();
    assert_eq!(lists.len(), 2, "most and least lists");
    assert!(!lists[0].is_empty() && !lists[1].is_empty(), "{lists:?}");
    assert!(
        lists[0].iter().all(|u| !lists[1].contains(u)),
        "most and least share a unit: {lists:?}"
    );
}
