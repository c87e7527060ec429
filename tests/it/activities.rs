//! 活动: exact capacity under concurrency, the waitlist, QR check-in, ratings, the export.

use crate::helpers::*;
use zhijia::activities::model::SignupStatus;

fn unit(app_conn: &mut zhijia::db::PooledConn, name: &str) -> i32 {
    zhijia::org::model::find_by_name(app_conn, name).unwrap()[0].id
}

/// Beijing-time datetime-local value `mins` minutes from the app clock.
fn local_in(app_now: chrono::NaiveDateTime, mins: i64) -> String {
    zhijia::activities::service::to_local(&(app_now + chrono::Duration::minutes(mins)))
}

fn activity_id(r: &Resp) -> i32 {
    r.location()
        .trim_start_matches("/admin/activities/")
        .parse()
        .unwrap_or_else(|_| panic!("not created: {}", r.body))
}

fn count_status(app_conn: &mut zhijia::db::PooledConn, id: i32, status: &str) -> i64 {
    use diesel::prelude::*;
    use zhijia::db::schema::activity_signups as s;
    s::table
        .filter(s::activity_id.eq(id))
        .filter(s::status.eq(status))
        .count()
        .get_result(app_conn)
        .unwrap()
}

#[actix_web::test]
async fn two_thousand_concurrent_signups_for_200_seats_confirm_exactly_200() {
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会");
    let now = app.state.config.clock.now();
    app.login_ok("demo-cadre").await;
    let r = app
        .post(
            "/admin/activities/new",
            &[
                ("title", "新年健步走"),
                ("kind", "文体活动"),
                ("place", "滨江绿道"),
                ("starts_at", &local_in(now, 60 * 24)),
                ("ends_at", &local_in(now, 60 * 27)),
                ("capacity", "200"),
                ("audience", &a.to_string()),
            ],
        )
        .await;
    r.assert_status(303);
    let id = activity_id(&r);
    let people = app.members_with_sessions("机关分会", "CC", 2000);
    let path = format!("/activities/{id}/signup");
    let statuses =
        futures_util::future::join_all(people.iter().map(|s| app.post_as(s, &path, &[]))).await;
    let errors: Vec<&u16> = statuses.iter().filter(|s| **s != 303).collect();
    assert!(errors.is_empty(), "non-redirect answers: {errors:?}");
    let mut conn = app.conn();
    assert_eq!(count_status(&mut conn, id, "confirmed"), 200);
    assert_eq!(count_status(&mut conn, id, "waitlisted"), 1800);
    let a = zhijia::activities::model::find(&mut conn, id)
        .unwrap()
        .unwrap();
    assert_eq!(a.confirmed_count, 200);
    // Waitlist places are distinct: the queue has a well-defined order.
    let positions: std::collections::HashSet<i32> =
        zhijia::activities::model::attendees(&mut conn, id)
            .unwrap()
            .iter()
            .filter(|r| r.signup.is_waitlisted())
            .map(|r| r.signup.position)
            .collect();
    assert_eq!(positions.len(), 1800);
}

#[actix_web::test]
async fn a_cancellation_promotes_the_first_on_the_waitlist_and_notifies_them() {
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会");
    let now = app.state.config.clock.now();
    app.login_ok("demo-cadre").await;
    let id = activity_id(
        &app.post(
            "/admin/activities/new",
            &[
                ("title", "书法讲座"),
                ("kind", "培训讲座"),
                ("place", "职工书屋"),
                ("starts_at", &local_in(now, 60 * 48)),
                ("ends_at", &local_in(now, 60 * 50)),
                ("capacity", "1"),
                ("extra_fields", "联系电话"),
                ("audience", &a.to_string()),
            ],
        )
        .await,
    );
    let p = app.members_with_sessions("机关分会", "WL", 3);
    let path = format!("/activities/{id}/signup");
    // The extra field is required.
    assert_eq!(app.post_as(&p[0], &path, &[]).await, 303);
    assert_eq!(count_status(&mut app.conn(), id, "confirmed"), 0);
    for s in &p {
        assert_eq!(
            app.post_as(s, &path, &[("field:联系电话", "13800000000")])
                .await,
            303
        );
    }
    let status_of = |app_conn: &mut zhijia::db::PooledConn, m: i32| {
        zhijia::activities::model::signup_of(app_conn, id, m)
            .unwrap()
            .unwrap()
            .status
    };
    let mut conn = app.conn();
    assert_eq!(
        status_of(&mut conn, p[0].member_id),
        SignupStatus::Confirmed
    );
    assert_eq!(
        status_of(&mut conn, p[1].member_id),
        SignupStatus::Waitlisted
    );
    assert_eq!(
        status_of(&mut conn, p[2].member_id),
        SignupStatus::Waitlisted
    );
    drop(conn);
    assert_eq!(
        app.post_as(&p[0], &format!("/activities/{id}/cancel"), &[])
            .await,
        303
    );
    let mut conn = app.conn();
    assert_eq!(
        status_of(&mut conn, p[0].member_id),
        SignupStatus::Cancelled
    );
    assert_eq!(
        status_of(&mut conn, p[1].member_id),
        SignupStatus::Confirmed,
        "first in line promoted"
    );
    assert_eq!(
        status_of(&mut conn, p[2].member_id),
        SignupStatus::Waitlisted
    );
    let a = zhijia::activities::model::find(&mut conn, id)
        .unwrap()
        .unwrap();
    assert_eq!(a.confirmed_count, 1);
    assert_eq!(
        app.count(&format!(
            "notifications WHERE member_id = {} AND title LIKE '%候补成功%'",
            p[1].member_id
        )),
        1
    );
    // The third is now first in line.
    let s = zhijia::activities::model::signup_of(&mut conn, id, p[2].member_id)
        .unwrap()
        .unwrap();
    assert_eq!(
        zhijia::activities::service::my_place(&mut conn, id, s.position).unwrap(),
        1
    );
    // Signing up again after cancelling re-queues at the back.
    drop(conn);
    assert_eq!(
        app.post_as(&p[0], &path, &[("field:联系电话", "139")])
            .await,
        303
    );
    assert_eq!(
        status_of(&mut app.conn(), p[0].member_id),
        SignupStatus::Waitlisted
    );
}

#[actix_web::test]
async fn qr_check_in_refuses_stale_tokens_and_members_without_a_seat() {
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会");
    let now = app.state.config.clock.now();
    app.login_ok("demo-cadre").await;
    let id = activity_id(
        &app.post(
            "/admin/activities/new",
            &[
                ("title", "安全知识竞赛"),
                ("kind", "劳动竞赛"),
                ("place", "多功能厅"),
                ("starts_at", &local_in(now, 30)),
                ("ends_at", &local_in(now, 150)),
                ("signup_closes_at", &local_in(now, 20)),
                ("capacity", "2"),
                ("audience", &a.to_string()),
            ],
        )
        .await,
    );
    let p = app.members_with_sessions("机关分会", "QR", 4);
    let path = format!("/activities/{id}/signup");
    for s in &p[..3] {
        assert_eq!(app.post_as(s, &path, &[]).await, 303);
    }
    // p0, p1 confirmed; p2 waitlisted; p3 never signed up.
    app.state.config.clock.advance(25 * 60);
    app.login_ok("demo-cadre").await;
    let venue = app.get(&format!("/admin/activities/{id}/venue")).await;
    venue
        .assert_status(200)
        .assert_contains("<svg class=\"qr\"");
    assert_eq!(venue.header("cache-control"), "no-store");
    let token = regex_lite::Regex::new(r"checkin\?t=([0-9]+\.[0-9a-f]+)")
        .unwrap()
        .captures(&venue.body)
        .expect("check-in URL on the venue screen")[1]
        .to_string();
    let checkin = format!("/activities/{id}/checkin");
    let checked = |app_conn: &mut zhijia::db::PooledConn, m: i32| {
        zhijia::activities::model::signup_of(app_conn, id, m)
            .unwrap()
            .is_some_and(|s| s.checked_in_at.is_some())
    };
    assert_eq!(app.post_as(&p[0], &checkin, &[("t", &token)]).await, 303);
    assert!(checked(&mut app.conn(), p[0].member_id));
    // Waitlisted and not signed up: refused with a fresh token.
    app.post_as(&p[2], &checkin, &[("t", &token)]).await;
    app.post_as(&p[3], &checkin, &[("t", &token)]).await;
    assert!(!checked(&mut app.conn(), p[2].member_id));
    assert_eq!(
        app.count(&format!(
            "activity_signups WHERE member_id = {}",
            p[3].member_id
        )),
        0
    );
    // A forged token is refused.
    app.post_as(
        &p[1],
        &checkin,
        &[(
            "t",
            &format!("{}.0000000000000000", token.split('.').next().unwrap()),
        )],
    )
    .await;
    assert!(!checked(&mut app.conn(), p[1].member_id));
    // 61 s later the same token is stale.
    app.state.config.clock.advance(61);
    app.post_as(&p[1], &checkin, &[("t", &token)]).await;
    assert!(
        !checked(&mut app.conn(), p[1].member_id),
        "stale token accepted"
    );
    // The member sees why (flash after the redirect) through a normal browser session.
    // A cadre checks p1 in by hand instead.
    app.login_ok("demo-cadre").await;
    let signup = zhijia::activities::model::signup_of(&mut app.conn(), id, p[1].member_id)
        .unwrap()
        .unwrap();
    app.post(
        &format!("/admin/activities/{id}/checkin/{}", signup.id),
        &[],
    )
    .await
    .assert_status(303);
    assert!(checked(&mut app.conn(), p[1].member_id));
    assert_eq!(app.audit_count("activity.checkin"), 1);

    // After the event: attendees rate it; the export lists everyone and reads back.
    app.state.config.clock.advance(3 * 3600);
    let p: Vec<Session> = p.iter().map(|s| app.renew(s)).collect();
    assert_eq!(
        app.post_as(
            &p[0],
            &format!("/activities/{id}/rate"),
            &[("rating", "5"), ("comment", "很有收获")]
        )
        .await,
        303
    );
    assert_eq!(
        app.post_as(&p[1], &format!("/activities/{id}/rate"), &[("rating", "4")])
            .await,
        303
    );
    // Rating twice or without attending changes nothing.
    app.post_as(&p[0], &format!("/activities/{id}/rate"), &[("rating", "1")])
        .await;
    app.post_as(&p[2], &format!("/activities/{id}/rate"), &[("rating", "1")])
        .await;
    let (avg, n) = zhijia::activities::model::rating_summary(&mut app.conn(), id).unwrap();
    assert_eq!((avg, n), (4.5, 2));
    app.login_ok("demo-cadre").await;
    app.get(&format!("/admin/activities/{id}"))
        .await
        .assert_contains("4.5");
    let x = app
        .get(&format!("/admin/activities/{id}/attendance.xlsx"))
        .await;
    x.assert_status(200);
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(x.bytes.clone())).unwrap();
    let sheet = wb.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .skip(2)
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 3, "three sign-ups: {rows:?}");
    let by_no = |no: &str| rows.iter().find(|r| r[1] == no).unwrap().clone();
    assert_eq!(by_no("QR00000")[4], "已签到");
    assert_eq!(by_no("QR00000")[6], "扫码");
    assert_eq!(by_no("QR00001")[6], "手工");
    assert_eq!(by_no("QR00002")[3], "候补中");
    assert_eq!(by_no("QR00000")[7], "5");
}

#[actix_web::test]
async fn activities_respect_audiences_and_the_signup_window() {
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会");
    let now = app.state.config.clock.now();
    app.login_ok("demo-cadre").await;
    let id = activity_id(
        &app.post(
            "/admin/activities/new",
            &[
                ("title", "亲子植树节"),
                ("kind", "亲子活动"),
                ("place", "森林公园"),
                ("starts_at", &local_in(now, 60 * 72)),
                ("ends_at", &local_in(now, 60 * 75)),
                ("signup_opens_at", &local_in(now, 60)),
                ("capacity", "30"),
                ("audience", &a.to_string()),
            ],
        )
        .await,
    );
    // Bad input comes back filled in with messages.
    let r = app
        .post(
            "/admin/activities/new",
            &[
                ("title", "缺时间的活动"),
                ("kind", "文体活动"),
                ("place", "操场"),
                ("capacity", "0"),
                ("audience", &a.to_string()),
            ],
        )
        .await;
    r.assert_status(422)
        .assert_contains("缺时间的活动")
        .assert_contains("请填写开始时间")
        .assert_contains("名额请填写");
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.get(&format!("/activities/{id}"))
        .await
        .assert_status(404);
    app.get("/activities").await.assert_ok_without("亲子植树节");
    app.get("/search?q=植树")
        .await
        .assert_ok_without("亲子植树节");
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get("/activities")
        .await
        .assert_contains("亲子植树节")
        .assert_contains("报名未开始");
    let r = app.post(&format!("/activities/{id}/signup"), &[]).await;
    app.get(r.location())
        .await
        .assert_contains("不在报名时间内");
    app.state.config.clock.advance(2 * 3600);
    app.login_ok("demo-member").await;
    let r = app.post(&format!("/activities/{id}/signup"), &[]).await;
    app.get(r.location()).await.assert_contains("报名成功");
    app.get("/activities?tab=mine")
        .await
        .assert_contains("亲子植树节");
    app.get("/search?q=植树")
        .await
        .assert_contains("亲子植树节");
}

/// The home page's "等您参与": open activities in the member's audience they have not signed
/// up for, soonest first; gone once signed up, never one for another branch or a closed window.
#[actix_web::test]
async fn home_lists_joinable_activities_until_the_member_signs_up() {
    let mut app = spawn_base().await;
    let own = unit(&mut app.conn(), "机关分会");
    let other = unit(&mut app.conn(), "路桥分会");
    let now = app.state.config.clock.now();
    app.login_ok("demo-admin").await;
    let create = |title: &'static str, audience: i32, starts: i64, closes: Option<i64>| {
        let mut f = vec![
            ("title", title.to_string()),
            ("kind", "文体活动".to_string()),
            ("place", "职工活动中心".to_string()),
            ("starts_at", local_in(now, starts)),
            ("ends_at", local_in(now, starts + 120)),
            ("capacity", "30".to_string()),
            ("audience", audience.to_string()),
        ];
        if let Some(c) = closes {
            f.push(("signup_opens_at", local_in(now, -60)));
            f.push(("signup_closes_at", local_in(now, c)));
        }
        f
    };
    let mut ids = Vec::new();
    for f in [
        create("首页可报名的羽毛球赛", own, 10, None),
        create("别的分会的篮球赛", other, 5, None),
        create("报名已截止的读书会", own, 8, Some(-1)),
    ] {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app.post("/admin/activities/new", &pairs).await;
        r.assert_status(303);
        ids.push(activity_id(&r));
    }
    let s = &app.members_with_sessions("机关分会", "HOME", 1)[0];
    let (status, home) = app.page_as(s, "/").await;
    assert_eq!(status, 200);
    let joinable = home.split("等您参与").nth(1).unwrap_or_default();
    let joinable = joinable.split("</section>").next().unwrap_or_default();
    assert!(
        joinable.contains(&format!("/activities/{}\"", ids[0])),
        "{joinable}"
    );
    assert!(
        !joinable.contains(&format!("/activities/{}\"", ids[1])),
        "{joinable}"
    );
    assert!(
        !joinable.contains(&format!("/activities/{}\"", ids[2])),
        "{joinable}"
    );
    // Soonest first: nothing in the member's list starts before ours (it starts in 10 minutes).
    assert!(
        joinable.find("/activities/").unwrap()
            == joinable.find(&format!("/activities/{}\"", ids[0])).unwrap(),
        "{joinable}"
    );
    assert_eq!(
        app.post_as(s, &format!("/activities/{}/signup", ids[0]), &[])
            .await,
        303
    );
    let (_, home) = app.page_as(s, "/").await;
    assert!(!home.contains(&format!("/activities/{}\"", ids[0])));
}

/// One member cancels, then signs up again from six tabs at the same instant, five times over:
/// one sign-up and one seat each time (on PostgreSQL the cancelled row's re-use raced, and every
/// parallel winner of the seat kept it).
#[actix_web::test]
async fn six_tabs_re_signing_up_at_once_take_one_seat() {
    use diesel::prelude::*;
    use zhijia::db::schema::activities as acts;
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会");
    let now = app.state.config.clock.now();
    app.login_ok("demo-cadre").await;
    let r = app
        .post(
            "/admin/activities/new",
            &[
                ("title", "六个标签页"),
                ("kind", "文体活动"),
                ("place", "礼堂"),
                ("starts_at", &local_in(now, 60 * 48)),
                ("ends_at", &local_in(now, 60 * 50)),
                ("capacity", "10"),
                ("audience", &a.to_string()),
            ],
        )
        .await;
    let id = activity_id(&r);
    let people = app.members_with_sessions("机关分会", "TB", 1);
    let me = &people[0];
    let signup = format!("/activities/{id}/signup");
    let cancel = format!("/activities/{id}/cancel");
    assert_eq!(app.post_as(me, &signup, &[]).await, 303);
    for round in 0..5 {
        assert_eq!(app.post_as(me, &cancel, &[]).await, 303, "round {round}");
        assert_eq!(count_status(&mut app.conn(), id, "confirmed"), 0);
        let tabs = (0..6).map(|_| app.post_as(me, &signup, &[]));
        let statuses = futures_util::future::join_all(tabs).await;
        assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
        let seats: i32 = acts::table
            .find(id)
            .select(acts::confirmed_count)
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(
            count_status(&mut app.conn(), id, "confirmed"),
            1,
            "round {round}"
        );
        assert_eq!(seats, 1, "round {round}: confirmed_count drifted");
    }
}

#[actix_web::test]
async fn a_cadre_edits_an_activity_but_cannot_cut_capacity_below_the_confirmed_count() {
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会").to_string();
    let now = app.state.config.clock.now();
    let (starts, ends) = (local_in(now, 60 * 24), local_in(now, 60 * 26));
    app.login_ok("demo-cadre").await;
    let fields = |title: &'static str, capacity: &'static str| {
        vec![
            ("title", title),
            ("kind", "文体活动"),
            ("place", "工会活动室"),
            ("starts_at", starts.as_str()),
            ("ends_at", ends.as_str()),
            ("capacity", capacity),
            ("audience", a.as_str()),
        ]
    };
    let id = activity_id(
        &app.post("/admin/activities/new", &fields("乒乓球友谊赛", "3"))
            .await,
    );
    let people = app.members_with_sessions("机关分会", "ED", 2);
    for s in &people {
        assert_eq!(
            app.post_as(s, &format!("/activities/{id}/signup"), &[])
                .await,
            303
        );
    }
    assert_eq!(count_status(&mut app.conn(), id, "confirmed"), 2);
    let edit = format!("/admin/activities/{id}/edit");
    app.post(&edit, &fields("乒乓球友谊赛", "1"))
        .await
        .assert_status(422)
        .assert_contains("已有 2 人报名，名额不能少于这个数")
        .assert_contains("乒乓球友谊赛");
    let unchanged = zhijia::activities::model::find(&mut app.conn(), id)
        .unwrap()
        .unwrap();
    assert_eq!(unchanged.capacity, 3);
    app.post(&edit, &fields("乒乓球团体赛", "5"))
        .await
        .assert_status(303);
    let edited = zhijia::activities::model::find(&mut app.conn(), id)
        .unwrap()
        .unwrap();
    assert_eq!(
        (edited.title.as_str(), edited.capacity),
        ("乒乓球团体赛", 5)
    );
    app.get(&format!("/activities/{id}"))
        .await
        .assert_status(200)
        .assert_contains("乒乓球团体赛");
}

#[actix_web::test]
async fn cancelling_after_check_in_or_after_sign_up_closes_is_refused_and_ratings_stay_in_range() {
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会").to_string();
    let now = app.state.config.clock.now();
    app.login_ok("demo-cadre").await;
    let id = activity_id(
        &app.post(
            "/admin/activities/new",
            &[
                ("title", "午间健步走"),
                ("kind", "文体活动"),
                ("place", "厂区环路"),
                ("starts_at", &local_in(now, 20)),
                ("ends_at", &local_in(now, 80)),
                ("capacity", "10"),
                ("audience", &a),
            ],
        )
        .await,
    );
    app.logout().await;
    app.login_ok("demo-member").await;
    app.post(&format!("/activities/{id}/signup"), &[])
        .await
        .assert_status(303);
    let other = app.members_with_sessions("机关分会", "CN", 1).remove(0);
    assert_eq!(
        app.post_as(&other, &format!("/activities/{id}/signup"), &[])
            .await,
        303
    );
    assert_eq!(count_status(&mut app.conn(), id, "confirmed"), 2);
    let activity = zhijia::activities::model::find(&mut app.conn(), id)
        .unwrap()
        .unwrap();
    let token = zhijia::activities::service::checkin_token(
        &app.state.config.secret_key,
        &activity,
        zhijia::activities::service::window_of(now),
    );
    app.post(&format!("/activities/{id}/checkin"), &[("t", &token)])
        .await
        .assert_status(303);
    // Checked in: no cancelling.
    let r = app.post(&format!("/activities/{id}/cancel"), &[]).await;
    r.assert_status(303);
    app.get(r.location())
        .await
        .assert_contains("您已签到，不能再取消报名");
    assert_eq!(count_status(&mut app.conn(), id, "confirmed"), 2);
    // Rating before the end is refused.
    let rate = |stars: &'static str| vec![("rating", stars), ("comment", "很好")];
    let r = app
        .post(&format!("/activities/{id}/rate"), &rate("5"))
        .await;
    app.get(r.location())
        .await
        .assert_contains("活动结束后才能评价");
    // Sign-up closed at the start: the member who did not check in cannot cancel online.
    app.state.config.clock.advance(25 * 60);
    let late = app.members_with_sessions("机关分会", "CL", 1).remove(0);
    assert_eq!(
        app.post_as(&late, &format!("/activities/{id}/signup"), &[])
            .await,
        303
    );
    assert_eq!(count_status(&mut app.conn(), id, "confirmed"), 2, "closed");
    app.login_ok("demo-member").await;
    let r = app.post(&format!("/activities/{id}/cancel"), &[]).await;
    app.get(r.location())
        .await
        .assert_contains("报名已截止，不能在线取消");
    // After the end: stars outside 1–5 are refused, 5 is kept; only those who came may rate.
    app.state.config.clock.advance(90 * 60);
    app.login_ok("demo-member").await;
    let rated = |app_conn: &mut zhijia::db::PooledConn| -> i64 {
        use diesel::prelude::*;
        use zhijia::db::schema::activity_signups as s;
        s::table
            .filter(s::activity_id.eq(id))
            .filter(s::rating.is_not_null())
            .count()
            .get_result(app_conn)
            .unwrap()
    };
    for bad in ["0", "6", "-1", "99999999999", "五"] {
        let r = app
            .post(
                &format!("/activities/{id}/rate"),
                &[("rating", bad), ("comment", "")],
            )
            .await;
        app.get(r.location())
            .await
            .assert_contains("请选择 1 到 5 星");
    }
    assert_eq!(rated(&mut app.conn()), 0);
    let r = app
        .post(&format!("/activities/{id}/rate"), &rate("5"))
        .await;
    app.get(r.location()).await.assert_contains("感谢您的评价");
    assert_eq!(rated(&mut app.conn()), 1);
    let absent = app.members_with_sessions("机关分会", "CA", 1).remove(0);
    assert_eq!(
        app.post_as(&absent, &format!("/activities/{id}/rate"), &rate("1"))
            .await,
        303
    );
    assert_eq!(rated(&mut app.conn()), 1, "only those who checked in");
}
