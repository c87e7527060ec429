//! Counts that cannot drift: the named invariants hold on a fresh demo, after a randomized
//! concurrent workload, and `zhijia check` finds and repairs a count broken by hand.

use diesel::prelude::*;
use zhijia::db::schema::{activities, activity_signups as su, comments, showcase_likes};

use crate::helpers::*;

/// A small deterministic generator: the seed is printed, so a failure can be replayed with
/// ZHIJIA_RANDOM_SEED.

#[actix_web::test]
async fn the_invariants_hold_on_a_fresh_demo_and_check_repairs_a_broken_count() {
    let app = spawn_demo().await;
    let mut conn = app.conn();
    assert_eq!(zhijia::invariants::check(&mut conn).unwrap(), vec![]);
    // Break two counts by hand.
    let act: i32 = activities::table
        .select(activities::id)
        .first(&mut conn)
        .unwrap();
    diesel::update(activities::table.find(act))
        .set(activities::confirmed_count.eq(activities::confirmed_count + 3))
        .execute(&mut conn)
        .unwrap();
    let post: i32 = zhijia::db::schema::showcase_posts::table
        .select(zhijia::db::schema::showcase_posts::id)
        .first(&mut conn)
        .unwrap();
    diesel::update(zhijia::db::schema::showcase_posts::table.find(post))
        .set(zhijia::db::schema::showcase_posts::like_count.eq(999))
        .execute(&mut conn)
        .unwrap();
    let found = zhijia::invariants::check(&mut conn).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found
        .iter()
        .any(|v| v.what == "activity" && v.id == act && v.detail.contains("confirmed_count")));
    assert!(found
        .iter()
        .any(|v| v.what == "showcase post" && v.id == post));
    // The CLI reports them and fails; --repair fixes them, audited.
    let url = match &app.state.config.database {
        zhijia::db::DbUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
        zhijia::db::DbUrl::Postgres(u) => u.clone(),
    };
    drop(conn);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_zhijia"))
            .args(args)
            .env("ZHIJIA_DATABASE_URL", &url)
            .env("ZHIJIA_CLOCK_START", TEST_NOW)
            .env(
                "ZHIJIA_SECRET_KEY",
                "smoke-test-secret-key-0123456789abcdef",
            )
            .output()
            .unwrap()
    };
    let out = run(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!("activity {act}: confirmed_count")),
        "{text}"
    );
    let out = run(&["check", "--repair"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("repaired 2 count(s)"), "{text}");
    assert_eq!(zhijia::invariants::check(&mut app.conn()).unwrap(), vec![]);
    assert_eq!(app.audit_count("check.repair"), 2);
    let out = run(&["check"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("all invariants hold"));
}

/// Many members and a cadre, in bursts of simultaneous requests: sign up, cancel, sign up
/// again, like and unlike, comment, and the cadre hides and restores comments. Afterwards every
/// invariant holds and every operation is reflected: a like toggled an odd number of times is
/// there, and a member whose last action on an activity was a sign-up holds a sign-up.
#[actix_web::test]
async fn a_randomized_concurrent_workload_keeps_every_invariant() {
    let ops: usize = std::env::var("ZHIJIA_RANDOM_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = std::env::var("ZHIJIA_RANDOM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        });
    eprintln!("randomized workload: ZHIJIA_RANDOM_SEED={seed} ZHIJIA_RANDOM_OPS={ops}");
    let mut rng = Lcg(seed);
    // Thousands of writes by the same few members: quotas scaled out of the way (they are
    // tested on their own), so each member's last action is known.
    let mut app = spawn_base_with(|c| c.quota_scale = 10_000).await;
    let unit = zhijia::org::model::find_by_name(&mut app.conn(), "机关分会").unwrap()[0].id;
    let now = app.state.config.clock.now();
    let later = |m: i64| zhijia::time::format_input(&(now + chrono::Duration::minutes(m)));
    let (start, end) = (later(60 * 24 * 3), later(60 * 24 * 3 + 120));
    app.login_ok("demo-cadre").await;
    let mut acts = Vec::new();
    // Three for sign-up and cancel; the fourth only takes sign-ups and check-ins (a checked-in
    // member may not cancel, which would blur what each member's last action means).
    for (i, cap) in [3, 5, 8, 6].iter().enumerate() {
        let r = app
            .post(
                "/admin/activities/new",
                &[
                    ("title", &format!("随机{i}")),
                    ("kind", "文体活动"),
                    ("place", "礼堂"),
                    ("starts_at", &start),
                    ("ends_at", &end),
                    ("capacity", &cap.to_string()),
                    ("audience", &unit.to_string()),
                ],
            )
            .await;
        r.assert_status(303);
        acts.push(
            r.location()
                .trim_start_matches("/admin/activities/")
                .parse::<i32>()
                .unwrap(),
        );
    }
    let checkin_act = acts.pop().unwrap();
    let survey = app
        .post(
            "/admin/surveys/new",
            &[
                ("title", "随机问卷"),
                ("source", "[单选] 满意吗 *\n满意\n不满意"),
                ("closes_at", &later(60 * 24 * 7)),
                ("results_visibility", "after_answer"),
                ("anonymous", "1"),
                ("audience", &unit.to_string()),
            ],
        )
        .await;
    survey.assert_status(303);
    let survey: i32 = survey
        .location()
        .trim_start_matches("/admin/surveys/")
        .parse()
        .unwrap();
    let question = zhijia::surveys::model::questions(&mut app.conn(), survey).unwrap()[0].id;
    let answer_key = format!("q{question}");
    let mut answered: std::collections::HashSet<i32> = Default::default();
    let mut checkin_ids: Vec<i32> = Vec::new();
    let cadre = Session {
        member_id: app.member_id("demo-cadre"),
        cookie: app.cookies["zj_session"].clone(),
        csrf: app.get("/me").await.csrf(),
    };
    // Posts of the cadre's own branch, so the cadre may moderate their comments.
    let posts: Vec<i32> = app.with(|c, now| {
        ["一", "二", "三", "四"]
            .iter()
            .map(|n| showcase_post(c, now, "demo-member", &format!("随手拍{n}"), true))
            .collect()
    });
    let people = app.members_with_sessions("机关分会", "RW", 24);
    // What each member did last per activity (true = signed up), and likes toggled per post.
    let mut last_signup: std::collections::HashMap<(i32, i32), bool> = Default::default();
    let mut toggles: std::collections::HashMap<(i32, i32), u32> = Default::default();
    let mut done = 0usize;
    let mut comment_ids: Vec<i32> = Vec::new();
    let mut statuses: std::collections::BTreeMap<u16, usize> = Default::default();
    while done < ops {
        // A burst: up to 8 different members at the same instant (one request each, so the
        // order of a member's own actions is known), sometimes with the cadre.
        let burst = 1 + rng.below(8);
        let mut chosen: Vec<usize> = Vec::new();
        while chosen.len() < burst {
            let m = rng.below(people.len());
            if !chosen.contains(&m) {
                chosen.push(m);
            }
        }
        let mut reqs = Vec::new();
        for &m in &chosen {
            let s = &people[m];
            let (path, effect) = match rng.below(13) {
                0..=2 => {
                    let a = acts[rng.below(acts.len())];
                    (format!("/activities/{a}/signup"), Some((a, true)))
                }
                3..=4 => {
                    let a = acts[rng.below(acts.len())];
                    (format!("/activities/{a}/cancel"), Some((a, false)))
                }
                5..=7 => {
                    let p = posts[rng.below(posts.len())];
                    *toggles.entry((s.member_id, p)).or_insert(0) += 1;
                    (format!("/showcase/{p}/like"), None)
                }
                8 => {
                    answered.insert(s.member_id);
                    (format!("/surveys/{survey}"), None)
                }
                9 | 10 => (format!("/activities/{checkin_act}/signup"), None),
                _ => {
                    let p = posts[rng.below(posts.len())];
                    (format!("/showcase/{p}/comments"), None)
                }
            };
            if let Some((a, signed)) = effect {
                // After a sign-up the member holds one; after a cancel (or a cancel without a
                // sign-up, which changes nothing) they do not.
                last_signup.insert((s.member_id, a), signed);
            }
            reqs.push((s, path));
        }
        // Sometimes one more member signs up from several tabs at once (a member repeating
        // one action, so its outcome is still known).
        if rng.below(5) == 0 {
            let m = rng.below(people.len());
            if !chosen.contains(&m) {
                let s = &people[m];
                let a = acts[rng.below(acts.len())];
                last_signup.insert((s.member_id, a), true);
                for _ in 0..2 + rng.below(5) {
                    reqs.push((s, format!("/activities/{a}/signup")));
                }
            }
        }
        if !comment_ids.is_empty() && rng.below(4) == 0 {
            let c = comment_ids[rng.below(comment_ids.len())];
            let action = if rng.below(2) == 0 { "hide" } else { "restore" };
            reqs.push((&cadre, format!("/admin/comments/{c}/{action}")));
        } else if !checkin_ids.is_empty() && rng.below(3) == 0 {
            let id = checkin_ids[rng.below(checkin_ids.len())];
            reqs.push((
                &cadre,
                format!("/admin/activities/{checkin_act}/checkin/{id}"),
            ));
        }
        let n = reqs.len();
        let answers = futures_util::future::join_all(reqs.iter().map(|(s, path)| {
            let body: Vec<(&str, &str)> = if path.ends_with("/comments") {
                vec![("body", "随机评论")]
            } else if path.starts_with("/surveys/") {
                vec![(answer_key.as_str(), "1")]
            } else {
                vec![]
            };
            let app = &app;
            async move { app.post_as(s, path, &body).await }
        }))
        .await;
        for a in answers {
            *statuses.entry(a).or_insert(0) += 1;
        }
        done += n;
        if rng.below(50) == 0 {
            comment_ids = comments::table
                .filter(comments::owner_type.eq("showcase"))
                .filter(comments::owner_id.eq_any(&posts))
                .select(comments::id)
                .load(&mut app.conn())
                .unwrap();
            checkin_ids = su::table
                .filter(su::activity_id.eq(checkin_act))
                .select(su::id)
                .load(&mut app.conn())
                .unwrap();
        }
    }
    eprintln!("{done} operations, answers by status: {statuses:?}");
    assert!(
        statuses.keys().all(|s| *s == 303),
        "seed {seed}: {statuses:?}"
    );
    let mut conn = app.conn();
    let broken = zhijia::invariants::check(&mut conn).unwrap();
    assert!(broken.is_empty(), "seed {seed}: {broken:#?}");
    // Every member who answered did so once; the anonymous sheets match (an invariant above).
    let participants: i64 = zhijia::db::schema::survey_participants::table
        .filter(zhijia::db::schema::survey_participants::survey_id.eq(survey))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(participants, answered.len() as i64, "seed {seed}");
    // Only confirmed sign-ups of the activity were checked in.
    let checked: Vec<String> = su::table
        .filter(su::activity_id.eq(checkin_act))
        .filter(su::checked_in_at.is_not_null())
        .select(su::status)
        .load(&mut conn)
        .unwrap();
    assert!(
        checked.iter().all(|s| s == "confirmed"),
        "seed {seed}: {checked:?}"
    );
    if ops >= 2000 {
        // The workload did what it claims: check-ins, answers, likes and sign-ups happened.
        assert!(!checked.is_empty() && !answered.is_empty(), "seed {seed}");
        assert!(
            !toggles.is_empty() && !last_signup.is_empty(),
            "seed {seed}"
        );
    }
    for ((member, post), n) in &toggles {
        let liked: i64 = showcase_likes::table
            .filter(showcase_likes::post_id.eq(post))
            .filter(showcase_likes::member_id.eq(member))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(
            liked == 1,
            n % 2 == 1,
            "seed {seed}: member {member} post {post}"
        );
    }
    for ((member, act), signed) in &last_signup {
        let status: Option<String> = su::table
            .filter(su::activity_id.eq(act))
            .filter(su::member_id.eq(member))
            .select(su::status)
            .first(&mut conn)
            .optional()
            .unwrap();
        let holds = matches!(status.as_deref(), Some("confirmed" | "waitlisted"));
        assert_eq!(
            holds, *signed,
            "seed {seed}: member {member} activity {act}"
        );
    }
}
