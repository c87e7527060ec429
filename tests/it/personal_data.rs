//! The personal-data registry (issue 30): it covers the live schema of both backends; a member
//! who did everything gets every registry table that is theirs in /me/data; after retention no
//! table, page or export a member or cadre can open holds their name, number or phone.

use std::io::Read;

use crate::builders;
use crate::helpers::*;

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// (table, column) of the live schema, without SQLite's own tables, the migrations' ledger and
/// the full-text indexes (derived from `news_articles` and `showcase_posts` tokens).
fn live_schema(conn: &mut zhijia::db::DbConnection) -> Vec<(String, String)> {
    use diesel::RunQueryDsl;
    let sqlite = zhijia::db::is_sqlite(conn);
    let tables: Vec<Name> = if sqlite {
        diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table'")
            .load(conn)
            .unwrap()
    } else {
        diesel::sql_query(
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = 'public'",
        )
        .load(conn)
        .unwrap()
    };
    let mut out = Vec::new();
    for t in tables {
        let n = t.name;
        if n.starts_with("sqlite_") || n.starts_with("__diesel") || n.contains("_fts") {
            continue;
        }
        let cols: Vec<Name> = if sqlite {
            diesel::sql_query(format!("SELECT name FROM pragma_table_info('{n}')"))
                .load(conn)
                .unwrap()
        } else {
            diesel::sql_query(format!(
                "SELECT column_name::text AS name FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = '{n}'"
            ))
            .load(conn)
            .unwrap()
        };
        out.extend(cols.into_iter().map(|c| (n.clone(), c.name)));
    }
    out
}

/// What the registry misses of a schema, and what it names that the schema lacks.
fn registry_gaps(schema: &[(String, String)]) -> (Vec<String>, Vec<String>) {
    use zhijia::personal_data::{POSTGRES_ONLY, REGISTRY};
    let missing = schema
        .iter()
        .filter(|(t, c)| {
            !REGISTRY
                .iter()
                .any(|r| r.name == t && r.cols.iter().any(|(n, _)| n == c))
                && !POSTGRES_ONLY.iter().any(|(pt, pc)| pt == t && pc == c)
        })
        .map(|(t, c)| format!("{t}.{c}"))
        .collect();
    let extra = REGISTRY
        .iter()
        .flat_map(|r| r.cols.iter().map(move |(c, _)| (r.name, *c)))
        .filter(|(t, c)| !schema.iter().any(|(st, sc)| st == t && sc == c))
        .map(|(t, c)| format!("{t}.{c}"))
        .collect();
    (missing, extra)
}

#[actix_web::test]
async fn the_registry_classifies_every_table_and_column_of_the_live_schema() {
    let app = spawn_base().await;
    let schema = live_schema(&mut app.conn());
    assert!(
        schema.len() > 300,
        "the walk found {} columns",
        schema.len()
    );
    let (missing, extra) = registry_gaps(&schema);
    assert!(
        missing.is_empty(),
        "columns without a classification in src/personal_data/registry.rs: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "registry entries the schema lacks: {extra:?}"
    );
    // A column added without a classification is caught (the check itself can fail).
    let mut grown = schema.clone();
    grown.push(("members".into(), "wechat_openid".into()));
    assert_eq!(registry_gaps(&grown).0, vec!["members.wechat_openid"]);
    // Every table whose rows belong to a member says how to find them, and every read a
    // registry entry says is audited has an action the privacy page lists.
    for t in zhijia::personal_data::REGISTRY {
        let owner = t
            .cols
            .iter()
            .any(|(_, c)| *c == zhijia::personal_data::Col::Owner);
        assert!(
            !owner || t.mine.is_some(),
            "{}: owner column, no `mine`",
            t.name
        );
        if let zhijia::personal_data::Reads::Audited(code) = t.reads {
            assert!(
                zhijia::audit::AuditAction::parse(code).is_some(),
                "{}: unknown audit action {code}",
                t.name
            );
        }
    }
}

const NAME: &str = "林晓雨";
const NUMBER: &str = "J7001";
const PHONE: &str = "13977770001";

/// Joins through /join, is approved, and does a bit of everything. Returns the member's id.
async fn everything<S, B>(app: &mut TestApp<S>) -> i32
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let unit = builders::user(&mut app.conn(), "demo-member").unit_id;
    let unit_s = unit.to_string();
    app.post(
        "/join",
        &[
            ("name", NAME),
            ("employee_no", NUMBER),
            ("phone", PHONE),
            ("unit_id", &unit_s),
            ("statement", "本人林晓雨自愿加入中国工会，遵守工会章程。"),
            ("consent", "1"),
        ],
    )
    .await
    .assert_status(200);
    let appl: i32 = app.with(|c, _| {
        use diesel::prelude::*;
        use zhijia::db::schema::membership_applications as a;
        zhijia::on_backend!(c, c => a::table.select(diesel::dsl::max(a::id)).first::<Option<i32>>(c))
            .unwrap()
            .unwrap()
    });
    let path = format!("/admin/membership/applications/{appl}");
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
    let r = app
        .post(
            &path,
            &[("action", "approve"), ("version", "1"), ("reason", "")],
        )
        .await;
    r.assert_status(200);
    let password = regex_lite::Regex::new(r#"<p class="secret">([0-9A-Za-z-]+)</p>"#)
        .unwrap()
        .captures(&r.body)
        .unwrap()[1]
        .to_string();
    app.logout().await;
    assert_eq!(app.login(NUMBER, &password).await.status.as_u16(), 303);
    app.logout().await;
    let me = app.member_id(NUMBER);
    app.with(|c, now| {
        use diesel::prelude::*;
        use zhijia::db::schema::members as m;
        // Her phone on the account, and the test password instead of the first one.
        diesel::update(m::table.find(me))
            .set((
                m::phone.eq(Some(PHONE)),
                m::password_hash.eq(Some(builders::password_hash())),
                m::must_change_password.eq(false),
            ))
            .execute(c)
            .unwrap();
        builders::benefit_catalogue(c, now);
        builders::member_footprint(c, now, NUMBER);
        let case: i32 = {
            use zhijia::db::schema::grievances as g;
            g::table
                .filter(g::member_id.eq(me))
                .select(g::id)
                .first(c)
                .unwrap()
        };
        builders::attachment(c, now, ("grievance", case));
        zhijia::membership::model::insert_dues_batch(c, &[(me, "2026-04".into(), 1500)], now)
            .unwrap();
        // A congress in session: she is a delegate and co-signs demo-member's draft.
        use zhijia::proposals::model as pm;
        let s = pm::insert_session(
            c,
            "第五届第三次职代会",
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(14),
            1,
            now,
        )
        .unwrap();
        pm::add_delegate(c, s, me, "第一工程公司代表团").unwrap();
        let other = builders::user(c, "demo-member");
        pm::add_delegate(c, s, other.id, "第一工程公司代表团").unwrap();
        let f = zhijia::proposals::DraftForm {
            session: s.to_string(),
            title: "增设夜班餐".into(),
            category: "生活后勤".into(),
            reason: "夜班职工下班后食堂已关门，只能吃泡面。".into(),
            measures: "建议食堂增设夜班餐，晚上十点到十二点供应热食。".into(),
        };
        let actor = zhijia::audit::Actor::user(&other, None, now);
        let theirs = zhijia::proposals::draft(c, &other, &actor, &f).unwrap();
        let mine = builders::user(c, NUMBER);
        let actor = zhijia::audit::Actor::user(&mine, None, now);
        zhijia::proposals::cosign(c, &mine, &actor, theirs, 0).unwrap();
        // A colleague gives her number and phone in a letter of their own (removed at
        // retention; a name in someone else's writing is kept: it may be a namesake's).
        let b = builders::user(c, "demo-member-b");
        let company = zhijia::mailbox::addressees(c, &b)
            .unwrap()
            .last()
            .unwrap()
            .id;
        zhijia::mailbox::write(
            c,
            &b,
            &zhijia::mailbox::WriteForm {
                unit_id: company.to_string(),
                subject: "表扬同事".into(),
                body: format!("工号 {NUMBER} 的同事（电话 {PHONE}）经常帮助大家，建议表扬。"),
                ..Default::default()
            },
            now,
        )
        .unwrap();
    });
    app.login_ok(NUMBER).await;
    let to = builders::unit_id(&mut app.conn(), "项目一部分会").to_string();
    app.post(
        "/mailbox",
        &[
            (
                "unit_id",
                &builders::unit_id(&mut app.conn(), "第一工程公司工会").to_string(),
            ),
            ("subject", "食堂晚餐时间"),
            (
                "body",
                "我是林晓雨，建议食堂晚餐供应到八点，加班的同事吃不上饭。",
            ),
        ],
    )
    .await
    .assert_status(303);
    app.post(
        "/me/membership/transfer",
        &[("to_unit", &to), ("reason", "调到项目一部")],
    )
    .await
    .assert_status(303);
    let transfer: i32 = app.with(|c, _| {
        use diesel::prelude::*;
        use zhijia::db::schema::member_transfers as t;
        zhijia::on_backend!(c, c => t::table.filter(t::member_id.eq(me)).select(t::id).first(c))
            .unwrap()
    });
    app.post(&format!("/me/membership/transfer/{transfer}/cancel"), &[])
        .await
        .assert_status(303);
    app.logout().await;
    // Her branch cadre opens the transfer (audited, naming her) and checks her card.
    app.login_ok("demo-cadre").await;
    app.get(&format!("/admin/membership/transfers/{transfer}"))
        .await
        .assert_status(200);
    app.logout().await;
    app.login_ok(NUMBER).await;
    let img = image::RgbImage::from_fn(60, 80, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png).unwrap();
    app.post_multipart_named(
        "/me/card/photo",
        &[],
        &[("photo", "me.png", &png.into_inner())],
    )
    .await
    .assert_status(303);
    app.logout().await;
    me
}

/// Every table and column of the database as text, each row prefixed with its table.
fn all_rows(app_conn: &mut zhijia::db::PooledConn) -> Vec<String> {
    crate::grievances::dump_all(app_conn)
}

/// The zip entries of a download (XLSX, /me/data) as text.
fn unzip_text(bytes: &[u8]) -> String {
    let Ok(mut zip) = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())) else {
        return String::new();
    };
    let mut all = String::new();
    for i in 0..zip.len() {
        let mut s = String::new();
        let _ = zip.by_index(i).unwrap().read_to_string(&mut s);
        all.push_str(&s);
    }
    all
}

#[actix_web::test]
async fn a_member_who_did_everything_gets_it_all_and_leaves_no_trace_after_retention() {
    let mut app = spawn_base().await;
    let me = everything(&mut app).await;

    // /me/data: a CSV for every registry table that is hers, the rows read back.
    app.login_ok(NUMBER).await;
    let r = app.get("/me/data").await;
    r.assert_status(200);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.bytes.clone())).unwrap();
    let key = zhijia::engagement::member_key(&app.state.config.secret_key, me);
    let did = [
        "members",
        "roles",
        "sessions",
        "grievances",
        "grievance_events",
        "attachments",
        "notifications",
        "benefit_requests",
        "benefit_events",
        "news_reads",
        "showcase_posts",
        "showcase_likes",
        "comments",
        "comment_reports",
        "activity_signups",
        "survey_participants",
        "survey_responses",
        "survey_answers",
        "membership_events",
        "membership_applications",
        "membership_application_events",
        "member_transfers",
        "member_transfer_events",
        "member_dues",
        "member_photos",
        "congress_delegates",
        "proposal_cosigners",
        "proposal_events",
        "mailbox_letters",
        "mailbox_events",
        "audit_subjects",
        "audit_log",
    ];
    for (file, t) in zhijia::members::mydata::parts() {
        let mut text = String::new();
        zip.by_name(&format!("data/{file}"))
            .unwrap_or_else(|_| panic!("no {file} in /me/data"))
            .read_to_string(&mut text)
            .unwrap();
        let text = text.trim_start_matches('\u{feff}');
        let rows = csv::Reader::from_reader(text.as_bytes()).records().count() as i64;
        let cond = t
            .mine
            .unwrap()
            .replace('?', &me.to_string())
            .replace("%K", &key);
        assert_eq!(
            rows,
            app.count(&format!("{} WHERE {cond}", t.name)),
            "{file}"
        );
        assert!(
            !did.contains(&t.name) || rows > 0,
            "{file}: she has rows there, none exported"
        );
    }
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    for dir in [
        "files/member_photos/",
        "files/attachments/",
        "files/images/",
    ] {
        assert!(names.iter().any(|n| n.starts_with(dir)), "{dir}: {names:?}");
    }
    app.logout().await;

    // She leaves; three years and two days on, the job runs.
    app.login_ok("demo-admin").await;
    app.post(
        &format!("/admin/membership/members/{me}/leave"),
        &[("choice", "leave"), ("note", "林晓雨本人申请退会")],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.state
        .config
        .clock
        .advance(3 * 365 * 86_400 + 2 * 86_400);
    let now = app.state.config.clock.now();
    assert!(zhijia::membership::leave::run_retention(&mut app.conn(), now).unwrap() >= 1);

    // No table holds her name, number or phone.
    let leaks: Vec<String> = all_rows(&mut app.conn())
        .into_iter()
        .filter(|r| {
            // Search tokens too: lower-cased numbers and the name's character pairs.
            [NAME, NUMBER, PHONE, "j7001", "林晓 晓雨"]
                .iter()
                .any(|n| r.contains(n))
        })
        .collect();
    assert!(leaks.is_empty(), "rows still naming her: {leaks:#?}");
    // Her certificates and scans are gone; her card photo too.
    assert_eq!(
        app.count(&format!(
            "attachments WHERE owner_type = 'grievance' AND owner_id IN \
             (SELECT id FROM grievances WHERE member_id = {me})"
        )),
        0
    );
    assert_eq!(
        app.count(&format!("member_photos WHERE member_id = {me}")),
        0
    );

    // No page or export a member or cadre can reach does either.
    for who in ["demo-admin", "demo-chair", "demo-cadre", "demo-member"] {
        app.cookies.clear();
        app.login_ok(who).await;
        let mut seen = std::collections::HashSet::new();
        let mut queue: std::collections::VecDeque<String> = [
            "/",
            "/admin",
            "/me",
            "/mailbox",
            "/admin/mailbox",
            "/proposals",
            "/admin/members?q=已注销",
            "/admin/membership",
            "/admin/audit",
            "/notifications",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let href = regex_lite::Regex::new(r##"href="(/[^"#]*)""##).unwrap();
        while let Some(path) = queue.pop_front() {
            if seen.len() >= 400 || !seen.insert(path.clone()) {
                continue;
            }
            let r = app.get(&path).await;
            let body = if r.header("content-type").contains("zip")
                || r.header("content-type").contains("spreadsheet")
            {
                unzip_text(&r.bytes)
            } else {
                r.body.clone()
            };
            for needle in [NAME, NUMBER, PHONE] {
                assert!(!body.contains(needle), "{who} reads {needle} on {path}");
            }
            for c in href.captures_iter(&r.body) {
                let p = c[1].replace("&amp;", "&");
                if !p.starts_with("/static/") && !p.starts_with("/logout") && !seen.contains(&p) {
                    queue.push_back(p);
                }
            }
        }
        assert!(seen.len() > 30, "{who} reached only {} pages", seen.len());
    }
}
