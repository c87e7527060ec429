//! 资讯: audiences, read receipts, the unread list, search, safe rendering.

use zhijia::news::model;

use crate::helpers::*;

fn unit(conn: &mut zhijia::db::PooledConn, name: &str) -> i32 {
    zhijia::org::model::find_by_name(conn, name).unwrap()[0].id
}

/// Publish as the logged-in cadre; returns the article id.
pub async fn publish<S, B>(
    app: &mut TestApp<S>,
    title: &str,
    body: &str,
    audience: &[i32],
    mandatory: bool,
) -> i32
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let cat = model::categories(&mut app.conn()).unwrap()[0]
        .id
        .to_string();
    let aud: Vec<String> = audience.iter().map(i32::to_string).collect();
    let mut f: Vec<(&str, &str)> = vec![
        ("title", title),
        ("category_id", &cat),
        ("body", body),
        ("action", "save"),
    ];
    for a in &aud {
        f.push(("audience", a));
    }
    if mandatory {
        f.push(("mandatory", "1"));
    }
    let r = app.post("/admin/news/new", &f).await;
    r.assert_status(303);
    r.location()
        .trim_start_matches("/admin/news/")
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn an_article_for_branch_a_is_invisible_to_branch_b_in_lists_pages_and_search() {
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会");
    app.login_ok("demo-cadre").await;
    let id = publish(
        &mut app,
        "机关分会工会小组长会议通知",
        "请各位工会小组长周五下午参加会议，讨论福利发放安排。",
        &[a],
        false,
    )
    .await;
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get("/news").await.assert_contains("工会小组长会议通知");
    app.get(&format!("/news/{id}"))
        .await
        .assert_status(200)
        .assert_contains("讨论福利发放安排");
    app.get("/search?q=会议")
        .await
        .assert_contains("工会小组长会议通知");
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.get("/news")
        .await
        .assert_ok_without("工会小组长会议通知");
    app.get(&format!("/news/{id}")).await.assert_status(404);
    assert!(!app
        .get("/search?q=会议")
        .await
        .body
        .contains("工会小组长会议通知"));
    // And a cadre of B cannot publish to A.
    app.logout().await;
    app.login_ok("demo-cadre-b").await;
    let cat = model::categories(&mut app.conn()).unwrap()[0]
        .id
        .to_string();
    let a_s = a.to_string();
    app.post(
        "/admin/news/new",
        &[
            ("title", "越权"),
            ("category_id", &cat),
            ("body", "x"),
            ("audience", &a_s),
            ("action", "save"),
        ],
    )
    .await
    .assert_status(422)
    .assert_contains("只能面向您管理范围内的组织发布");
    app.get(&format!("/admin/news/{id}"))
        .await
        .assert_status(404);
}

#[actix_web::test]
async fn a_read_receipt_counts_once_and_the_unread_list_is_exact() {
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会");
    app.login_ok("demo-cadre").await;
    let id = publish(
        &mut app,
        "关于开展安全生产月活动的通知",
        "全体会员必读。",
        &[a],
        true,
    )
    .await;
    let stats = app.get(&format!("/admin/news/{id}/reads")).await;
    stats.assert_status(200).assert_contains("王小明");
    let audience_size = {
        let (members, _) =
            zhijia::members::model::search(&mut app.conn(), Some(&[a]), &Default::default(), 1000)
                .unwrap();
        members.iter().filter(|m| !m.member.disabled).count()
    };
    app.logout().await;
    app.login_ok("demo-member").await;
    let member = app.member_id("demo-member");
    let anc = {
        let u = zhijia::auth::user::load_user(&mut app.conn(), member, "")
            .unwrap()
            .unwrap();
        zhijia::org::scope::path_slots(&u)
    };
    let now = app.state.config.clock.now();
    let unread = |conn: &mut zhijia::db::PooledConn| -> Vec<i32> {
        model::unread_mandatory(conn, member, anc, now)
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect()
    };
    let before = unread(&mut app.conn());
    assert!(before.contains(&id));
    app.get("/")
        .await
        .assert_contains(&format!("必读通知（{} 条未读）", before.len()))
        .assert_contains("关于开展安全生产月活动的通知");
    for _ in 0..3 {
        app.get(&format!("/news/{id}")).await.assert_status(200);
    }
    let after = unread(&mut app.conn());
    assert_eq!(after.len(), before.len() - 1);
    assert!(!after.contains(&id));
    assert_eq!(
        model::readers(&mut app.conn(), id).unwrap().len(),
        1,
        "three opens, one receipt"
    );
    // Views are buffered in memory and written in batches.
    assert_eq!(app.state.views.pending(id), 3);
    app.state.views.flush(&mut app.conn()).unwrap();
    assert_eq!(app.state.views.pending(id), 0);
    assert_eq!(
        model::find(&mut app.conn(), id)
            .unwrap()
            .unwrap()
            .view_count,
        3
    );
    app.logout().await;
    app.login_ok("demo-cadre").await;
    let stats = app.get(&format!("/admin/news/{id}/reads")).await;
    stats.assert_contains(&format!("未读名单（{} 人）", audience_size - 1));
    assert!(
        !stats.body.contains("王小明（demo-member）"),
        "a reader is not on the unread list"
    );
    stats.assert_contains("张建国（demo-cadre）");
    let x = app.get(&format!("/admin/news/{id}/unread.xlsx")).await;
    x.assert_status(200);
    use calamine::{Reader, Xlsx};
    let mut wb: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(x.bytes.clone())).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(range.rows().count() - 2, audience_size - 1);
}

#[actix_web::test]
async fn search_finds_two_character_words_and_ranks_title_above_body() {
    let mut app = spawn_base().await;
    let root = zhijia::org::model::all(&mut app.conn())
        .unwrap()
        .into_iter()
        .find(|u| u.parent_id.is_none())
        .unwrap()
        .id;
    app.login_ok("demo-admin").await;
    let body_hit = publish(
        &mut app,
        "年度体检安排",
        "今年体检增加了福利项目，请按时参加。",
        &[root],
        false,
    )
    .await;
    let title_hit = publish(
        &mut app,
        "福利发放说明",
        "中秋节慰问品已经到位。",
        &[root],
        false,
    )
    .await;
    let mixed = publish(
        &mut app,
        "工会App使用指南",
        "下载 ZhiJia App 即可在手机上办理。",
        &[root],
        false,
    )
    .await;
    app.logout().await;
    app.login_ok("demo-member").await;
    let r = app.get("/search?q=福利").await;
    r.assert_status(200);
    let t = r
        .body
        .find(&format!("/news/{title_hit}\""))
        .expect("title hit found");
    let b = r
        .body
        .find(&format!("/news/{body_hit}\""))
        .expect("body hit found");
    assert!(t < b, "a title match ranks above a body match");
    r.assert_contains("<mark>福利</mark>");
    app.get("/search?q=zhijia%20app")
        .await
        .assert_contains(&format!("/news/{mixed}\""));
    app.get("/search?q=工会app")
        .await
        .assert_contains(&format!("/news/{mixed}\""));
    app.get("/search?q=不存在的词语组合")
        .await
        .assert_contains("没有找到");
    app.get("/search?q=%22%27%3C%3E*()")
        .await
        .assert_status(200);
}

#[actix_web::test]
async fn scheduled_and_draft_articles_stay_hidden_until_due() {
    let mut app = spawn_base().await;
    let root = zhijia::org::model::all(&mut app.conn())
        .unwrap()
        .into_iter()
        .find(|u| u.parent_id.is_none())
        .unwrap()
        .id
        .to_string();
    let cat = model::categories(&mut app.conn()).unwrap()[0]
        .id
        .to_string();
    app.login_ok("demo-admin").await;
    let later = zhijia::web::beijing(
        &(app.state.config.clock.now() + chrono::Duration::days(1)),
        "%Y-%m-%dT%H:%M",
    );
    let r = app
        .post(
            "/admin/news/new",
            &[
                ("title", "明天发布的通知"),
                ("category_id", &cat),
                ("body", "b"),
                ("audience", &root),
                ("publish_at", &later),
                ("action", "save"),
            ],
        )
        .await;
    let id: i32 = r
        .location()
        .trim_start_matches("/admin/news/")
        .parse()
        .unwrap();
    app.post(
        "/admin/news/new",
        &[
            ("title", "草稿"),
            ("category_id", &cat),
            ("body", "b"),
            ("audience", &root),
            ("draft", "1"),
            ("action", "save"),
        ],
    )
    .await
    .assert_status(303);
    app.post(
        "/admin/news/new",
        &[
            ("title", ""),
            ("category_id", "x"),
            ("body", ""),
            ("publish_at", "garbage"),
            ("action", "save"),
        ],
    )
    .await
    .assert_status(422)
    .assert_contains("请填写标题")
    .assert_contains("请选择阅读范围");
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get("/news").await.assert_ok_without("明天发布的通知");
    app.get(&format!("/news/{id}")).await.assert_status(404);
    app.get("/news").await.assert_ok_without(">草稿<");
    app.state.config.clock.advance(2 * 24 * 3600);
    app.login_ok("demo-member").await; // the session idled out meanwhile
    app.get(&format!("/news/{id}")).await.assert_status(200);
}

/// Payloads that try to run script through Markdown, titles and summaries.
pub const XSS: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<body onload=alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "\"><script>alert(1)</script>",
    "'><img src=x onerror=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "![x](javascript:alert(1))",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<form action=\"javascript:alert(1)\"><button>x</button></form>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<link rel=stylesheet href=\"javascript:alert(1)\">",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<x onclick=alert(1)>click</x>",
    "<scr<script>ipt>alert(1)</script>",
    "<<script>script>alert(1)<</script>/script>",
    "<img src=\"x\" onerror=\"alert(1)\"/>",
    "<svg><script>alert(1)</script></svg>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<img src=x:alert(1) onerror=eval(src)>",
    "<table background=\"javascript:alert(1)\">",
    "<button formaction=\"javascript:alert(1)\">x</button>",
    "<isindex action=javascript:alert(1) type=image>",
    "<textarea onfocus=alert(1) autofocus>",
    "<keygen autofocus onfocus=alert(1)>",
    "<select autofocus onfocus=alert(1)>",
    "<style>@import 'javascript:alert(1)';</style>",
    "<img src=`x`onerror=alert(1)>",
    "<a href=\"  javascript:alert(1)\">x</a>",
    "<a href=\"java\tscript:alert(1)\">x</a>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<img srcset=\"x\" onerror=\"alert(1)\">",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<template><script>alert(1)</script></template>",
    "<div onmouseover=\"alert(1)\">hover</div>",
    "<p onpointerenter=alert(1)>x</p>",
    "<a href=javascript&colon;alert(1)>x</a>",
    "<svg/onload=alert(1)>",
];

/// No live script element, event-handler attribute or javascript: URL in the HTML.
pub fn assert_inert(html: &str, what: &str) {
    // Text inside quoted attribute values is inert (askama escapes quotes), so drop it first.
    let raw = html.to_lowercase();
    // Our own pages carry no inline script at all (CSP forbids it), so any <script is injected.
    assert!(!raw.contains("<script"), "{what}: live script element");
    let attrs = "(href|src|action|formaction|data|background|poster|srcset)";
    let quoted = regex_lite::Regex::new(&format!(
        r#"<[a-z][^<>]*\s{attrs}\s*=\s*["']\s*(javascript|vbscript|data):"#
    ))
    .unwrap();
    assert!(!quoted.is_match(&raw), "{what}: script URL in an attribute");
    let lower = regex_lite::Regex::new(r#"="[^"]*""#)
        .unwrap()
        .replace_all(&raw, "=\"\"")
        .to_string();
    let bare = regex_lite::Regex::new(&format!(
        r#"<[a-z][^>]*\s{attrs}\s*=\s*(javascript|vbscript|data):"#
    ))
    .unwrap();
    assert!(
        !bare.is_match(&lower),
        "{what}: unquoted script URL in an attribute"
    );
    let re = regex_lite::Regex::new(r#"<[a-z][^>]*\s(on[a-z]+)\s*="#).unwrap();
    assert!(!re.is_match(&lower), "{what}: event handler attribute");
}

#[actix_web::test]
async fn fifty_xss_payloads_in_every_news_field_render_inert() {
    let mut app = spawn_base().await;
    let root = zhijia::org::model::all(&mut app.conn())
        .unwrap()
        .into_iter()
        .find(|u| u.parent_id.is_none())
        .unwrap()
        .id
        .to_string();
    let cat = model::categories(&mut app.conn()).unwrap()[0]
        .id
        .to_string();
    assert!(XSS.len() >= 50);
    app.login_ok("demo-admin").await;
    let mut ids = Vec::new();
    for (i, p) in XSS.iter().enumerate() {
        let title = format!("{p} 标题{i}");
        let body = format!("正文 {p}\n\n> {p}\n\n- {p}");
        let r = app
            .post(
                "/admin/news/new",
                &[
                    ("title", &title),
                    ("category_id", &cat),
                    ("summary", p),
                    ("body", &body),
                    ("audience", &root),
                    ("action", "save"),
                ],
            )
            .await;
        r.assert_status(303);
        ids.push(
            r.location()
                .trim_start_matches("/admin/news/")
                .parse::<i32>()
                .unwrap(),
        );
        // The editor's preview renders the body too.
        let pr = app
            .post(
                "/admin/news/new",
                &[
                    ("title", &title),
                    ("category_id", &cat),
                    ("body", &body),
                    ("audience", &root),
                    ("action", "preview"),
                ],
            )
            .await;
        assert_inert(&pr.body, &format!("preview {p}"));
    }
    for id in &ids {
        assert_inert(&app.get(&format!("/admin/news/{id}")).await.body, "editor");
    }
    assert_inert(&app.get("/admin/news").await.body, "admin list");
    app.logout().await;
    app.login_ok("demo-member").await;
    for id in &ids {
        assert_inert(
            &app.get(&format!("/news/{id}")).await.body,
            &format!("article {id}"),
        );
    }
    for page in 1..=3 {
        assert_inert(
            &app.get(&format!("/news?page={page}")).await.body,
            "news list",
        );
    }
    assert_inert(&app.get("/").await.body, "home");
    assert_inert(&app.get("/search?q=alert").await.body, "search");
    assert_inert(
        &app.get("/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
            .await
            .body,
        "search echo",
    );
}

#[test]
fn bigram_tokens_cover_two_character_words_and_mixed_text() {
    let t = zhijia::search::tokens("工会福利App下载");
    assert_eq!(t, vec!["工会", "会福", "福利", "app", "下载"]);
    assert_eq!(zhijia::search::tokens("会"), vec!["会"]);
    assert_eq!(zhijia::search::tokens("ＡＢＣ 工会"), vec!["abc", "工会"]);
}

#[actix_web::test]
async fn news_list_article_and_home_run_a_bounded_number_of_queries() {
    let mut app = spawn_base().await;
    app.with(|c, now| pages_full(c, now, 45));
    app.login_ok("demo-member").await;
    let id = {
        let anc = zhijia::org::scope::ancestors(
            &zhijia::auth::user::load_user(&mut app.conn(), app.member_id("demo-member"), "")
                .unwrap()
                .unwrap(),
        );
        let now = app.state.config.clock.now();
        model::visible(&mut app.conn(), &anc, now, None, None, 1, 0)
            .unwrap()
            .0[0]
            .id
    };
    let mut counts = Vec::new();
    let post: i32 = {
        use diesel::prelude::*;
        use zhijia::db::schema::showcase_posts as sp;
        sp::table
            .filter(sp::status.eq("approved"))
            .filter(sp::comment_count.gt(0))
            .select(sp::id)
            .first(&mut app.conn())
            .unwrap()
    };
    for path in [
        "/news",
        &format!("/news/{id}"),
        "/",
        "/search?q=工会",
        "/showcase",
        &format!("/showcase/{post}"),
    ] {
        app.get(path).await.assert_status(200);
        app.take_queries();
        app.get(path).await.assert_status(200);
        counts.push((path.to_string(), app.take_queries()));
    }
    // Each page: the session and user (3 statements), then a fixed handful of its own, whatever
    // the number of articles, posts or comments on it (20 articles on the list page, 12 posts
    // in the gallery). Measured counts are in docs/performance.md.
    eprintln!("statements per page: {counts:?}");
    for (path, n) in &counts {
        assert!(*n <= 12, "{path} ran {n} statements");
    }
    // Twice the rows on the list page do not change the count (no query per row).
    let list_before = counts[0].1;
    app.get("/news?page=2").await.assert_status(200);
    app.take_queries();
    app.get("/news?page=2").await;
    assert_eq!(app.take_queries(), list_before);
}

/// The statements the hot pages' model functions really run (captured from the connection, not
/// copied by hand), each explained on SQLite: every step is a SEARCH on a key, never a SCAN. PostgreSQL chooses plans from table statistics (a sequential scan of a demo-sized
/// table is right there), so this runs on SQLite only and says so.
#[actix_web::test]
async fn the_hot_queries_the_code_runs_use_indexes_on_sqlite() {
    use diesel::connection::{Connection, InstrumentationEvent};
    use diesel::prelude::*;
    use std::sync::{Arc, Mutex};
    let app = spawn_base().await;
    app.with(|c, now| pages_full(c, now, 25));
    let mut conn = app.conn();
    if !zhijia::db::is_sqlite(&conn) {
        eprintln!("SKIPPED query plans on PostgreSQL: checked on SQLite");
        return;
    }
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = seen.clone();
    conn.set_instrumentation(move |e: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = e {
            sink.lock().unwrap().push(query.to_string());
        }
    });
    let now = app.state.config.clock.now();
    let member = app.member_id("demo-member");
    let user = zhijia::auth::user::load_user(&mut conn, member, "")
        .unwrap()
        .unwrap();
    let anc = zhijia::org::scope::ancestors(&user);
    let slots = zhijia::org::scope::path_slots(&user);
    let (cards, _) = zhijia::news::model::visible(&mut conn, &anc, now, None, None, 20, 0).unwrap();
    assert!(!cards.is_empty());
    zhijia::news::model::find(&mut conn, cards[0].id).unwrap();
    zhijia::news::model::unread_mandatory(&mut conn, member, slots, now).unwrap();
    let (posts, _) = zhijia::showcase::model::approved(&mut conn, None, None, 12, 0).unwrap();
    assert!(!posts.is_empty());
    zhijia::showcase::model::featured(&mut conn, 4).unwrap();
    zhijia::comments::thread(&mut conn, zhijia::comments::Owner::Showcase(posts[0].id)).unwrap();
    zhijia::activities::model::joinable(&mut conn, slots, member, now, 3).unwrap();
    conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
    let statements = seen.lock().unwrap().clone();
    assert!(statements.len() >= 7, "{statements:#?}");
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let mut checked = 0;
    let mut joinable_plan = String::new();
    for st in &statements {
        let sql = st.split(" -- binds:").next().unwrap();
        if !sql.trim_start().starts_with("SELECT") {
            continue;
        }
        // Unbound parameters are NULL to the planner; the plan's shape is the same.
        let plan: Vec<Plan> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load(&mut conn)
            .unwrap();
        for step in &plan {
            let d = &step.detail;
            // A SCAN walks a whole table or a whole index (even "USING INDEX" for an order):
            // every step over a table must be a SEARCH on a key.
            assert!(!d.starts_with("SCAN "), "{sql}\n→ {d}");
            if sql.contains("`activities`.`signup_closes_at` >") {
                joinable_plan.push_str(d);
            }
        }
        checked += 1;
    }
    assert!(checked >= 7, "{checked} statements explained");
    // The home page's "等您参与": a range over open sign-up windows, not a walk through every
    // published activity.
    assert!(
        joinable_plan.contains("signup_closes_at>?"),
        "{joinable_plan}"
    );
}

/// The audience filter binds exactly eight path slots (one SQL text for every reader, so the
/// statement stays prepared): a member eight levels deep still sees what is addressed to the
/// root or to their own unit and nothing addressed elsewhere, and the tree refuses a ninth level.
#[actix_web::test]
async fn audiences_reach_the_deepest_allowed_unit_and_the_tree_stops_at_eight_levels() {
    let mut app = spawn_base().await;
    app.login_ok("demo-admin").await;
    let root: i32 = {
        let mut conn = app.conn();
        zhijia::org::model::all(&mut conn)
            .unwrap()
            .into_iter()
            .find(|u| u.parent_id.is_none())
            .unwrap()
            .id
    };
    let mut parent = root;
    let mut chain = Vec::new();
    for level in 1..8 {
        let name = format!("深层{level}级");
        app.post(
            "/admin/org",
            &[
                ("parent_id", &parent.to_string()),
                ("name", &name),
                ("kind", "team"),
            ],
        )
        .await
        .assert_status(303);
        parent = unit(&mut app.conn(), &name);
        chain.push(parent);
    }
    let deepest = *chain.last().unwrap();
    let path = zhijia::org::model::find(&mut app.conn(), deepest)
        .unwrap()
        .unwrap()
        .path;
    assert_eq!(
        path.matches('/').count() - 1,
        zhijia::org::scope::PATH_SLOTS
    );
    // A ninth level is refused with a message, and nothing is created.
    app.post(
        "/admin/org",
        &[
            ("parent_id", &deepest.to_string()),
            ("name", "深层8级"),
            ("kind", "team"),
        ],
    )
    .await
    .assert_status(303);
    app.get("/admin/org")
        .await
        .assert_contains("组织层级最多 8 级");
    assert!(zhijia::org::model::find_by_name(&mut app.conn(), "深层8级")
        .unwrap()
        .is_empty());
    // Moving a two-level subtree under the seventh level would make nine levels: refused.
    let other = unit(&mut app.conn(), "机关分会");
    app.post(
        "/admin/org",
        &[
            ("parent_id", &other.to_string()),
            ("name", "搬迁小组"),
            ("kind", "team"),
        ],
    )
    .await
    .assert_status(303);
    app.post(
        &format!("/admin/org/{other}/move"),
        &[("parent_id", &chain[5].to_string())],
    )
    .await
    .assert_status(303);
    app.get(&format!("/admin/org/{other}"))
        .await
        .assert_contains("组织层级最多 8 级");

    let to_root = publish(&mut app, "全集团通知", "面向全体会员。", &[root], false).await;
    let to_deep = publish(
        &mut app,
        "深层小组通知",
        "只给最深的小组。",
        &[deepest],
        false,
    )
    .await;
    let to_mid = publish(
        &mut app,
        "第三级通知",
        "给第三级及以下。",
        &[chain[2]],
        false,
    )
    .await;
    let elsewhere = publish(
        &mut app,
        "机关分会专属通知",
        "只给机关分会。",
        &[other],
        false,
    )
    .await;
    let s = &app.members_with_sessions("深层7级", "deep", 1)[0];
    let (status, list) = app.page_as(s, "/news").await;
    assert_eq!(status, 200);
    for (id, seen) in [
        (to_root, true),
        (to_deep, true),
        (to_mid, true),
        (elsewhere, false),
    ] {
        assert_eq!(
            list.contains(&format!("href=\"/news/{id}\"")),
            seen,
            "list, article {id}"
        );
        let (status, _) = app.page_as(s, &format!("/news/{id}")).await;
        assert_eq!(status, if seen { 200 } else { 404 }, "article {id}");
    }
    // A member of the third level sees the root and third-level notices, not the deep one.
    let m = &app.members_with_sessions("深层3级", "mid", 1)[0];
    let (_, list) = app.page_as(m, "/news").await;
    assert!(list.contains(&format!("href=\"/news/{to_root}\"")));
    assert!(list.contains(&format!("href=\"/news/{to_mid}\"")));
    assert!(!list.contains(&format!("href=\"/news/{to_deep}\"")));
}

/// Every statement a logged-in page view runs (session, user, roles, the news list, an article
/// with its files and comments, the home page's lists) can be kept prepared: on a fresh
/// connection each one is cached the first time and nothing is prepared again the second time.
/// (diesel never caches an `IN (?, …)` list or a SQL literal; those would show up here.)
#[actix_web::test]
async fn the_statements_of_a_page_view_are_prepared_once() {
    use diesel::connection::{Connection, InstrumentationEvent};
    use diesel::r2d2::ManageConnection;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;
    let app = spawn_base().await;
    app.with(|c, now| pages_full(c, now, 5));
    let s = &app.members_with_sessions("机关分会", "PREP", 1)[0];
    let now = app.state.config.clock.now();
    let article = {
        let mut conn = app.conn();
        let u = zhijia::auth::user::load_user(&mut conn, s.member_id, "")
            .unwrap()
            .unwrap();
        model::listing(
            &mut conn,
            zhijia::org::scope::path_slots(&u),
            now,
            None,
            1,
            0,
        )
        .unwrap()
        .0[0]
            .id
    };
    let mut conn = zhijia::db::Manager::new(app.state.config.database.clone())
        .connect()
        .unwrap();
    let (started, cached) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (st, ca) = (started.clone(), cached.clone());
    conn.set_instrumentation(move |e: InstrumentationEvent<'_>| match e {
        InstrumentationEvent::StartQuery { .. } => {
            st.fetch_add(1, Relaxed);
        }
        InstrumentationEvent::CacheQuery { .. } => {
            ca.fetch_add(1, Relaxed);
        }
        _ => {}
    });
    let view = |conn: &mut zhijia::db::DbConnection| {
        let session = zhijia::auth::session::peek(conn, &s.cookie, now)
            .unwrap()
            .unwrap()
            .unwrap();
        let u = zhijia::auth::user::load_user(conn, session.member_id, &session.id)
            .unwrap()
            .unwrap();
        let slots = zhijia::org::scope::path_slots(&u);
        for category in [None, Some(1)] {
            model::listing(conn, slots, now, category, 20, 0).unwrap();
        }
        model::categories(conn).unwrap();
        zhijia::news::service::readable(conn, &u, article, now).unwrap();
        model::has_read(conn, article, u.id).unwrap();
        zhijia::attachments::list(conn, ("news", article)).unwrap();
        zhijia::comments::thread(conn, zhijia::comments::Owner::News(article)).unwrap();
        model::unread_mandatory(conn, u.id, slots, now).unwrap();
        zhijia::activities::model::joinable(conn, slots, u.id, now, 3).unwrap();
        zhijia::surveys::model::unanswered(conn, u.id, slots, now, 3).unwrap();
    };
    view(&mut conn);
    let (first_run, first_cached) = (started.load(Relaxed), cached.load(Relaxed));
    assert!(first_run >= 13, "only {first_run} statements ran");
    // The listing runs twice (all categories, one category): the same two statements, so they
    // are cached once; every other statement is cached on its first run.
    assert_eq!(
        first_cached,
        first_run - 2,
        "some statements could not be cached"
    );
    view(&mut conn);
    assert_eq!(started.load(Relaxed), 2 * first_run);
    assert_eq!(
        cached.load(Relaxed),
        first_cached,
        "statements were prepared again"
    );
}

/// A page of another site that links or embeds a mandatory notice does not sign its read
/// receipt for the member; opening it from the portal (or a bookmark) does.
#[actix_web::test]
async fn a_cross_site_request_does_not_sign_a_read_receipt() {
    use actix_web::test::TestRequest;
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会");
    app.login_ok("demo-cadre").await;
    let id = publish(&mut app, "跨站回执测试通知", "正文", &[a], true).await;
    app.logout().await;
    app.login_ok("demo-member").await;
    let path = format!("/news/{id}");
    let r = app
        .send(
            TestRequest::get()
                .uri(&path)
                .insert_header(("sec-fetch-site", "cross-site")),
        )
        .await;
    r.assert_status(200).assert_contains("跨站回执测试通知");
    let r = app
        .send(
            TestRequest::get()
                .uri(&path)
                .insert_header(("referer", "https://evil.example/page")),
        )
        .await;
    r.assert_status(200);
    assert_eq!(model::readers(&mut app.conn(), id).unwrap().len(), 0);
    app.send(
        TestRequest::get()
            .uri(&path)
            .insert_header(("sec-fetch-site", "same-origin")),
    )
    .await
    .assert_status(200);
    assert_eq!(model::readers(&mut app.conn(), id).unwrap().len(), 1);
}

/// Reports only on comments the member can see: under an article outside their audience the
/// report is refused (404) and nothing is counted.
#[actix_web::test]
async fn a_member_reports_only_comments_they_can_see() {
    let mut app = spawn_base().await;
    let a = unit(&mut app.conn(), "机关分会");
    let cat = model::categories(&mut app.conn()).unwrap()[0]
        .id
        .to_string();
    app.login_ok("demo-cadre").await;
    let r = app
        .post(
            "/admin/news/new",
            &[
                ("title", "可评论的分会通知"),
                ("category_id", &cat),
                ("body", "正文"),
                ("audience", &a.to_string()),
                ("comments", "1"),
                ("action", "save"),
            ],
        )
        .await;
    r.assert_status(303);
    let id: i32 = r
        .location()
        .trim_start_matches("/admin/news/")
        .parse()
        .unwrap();
    app.logout().await;
    app.login_ok("demo-member").await;
    app.post(&format!("/news/{id}/comments"), &[("body", "第一条评论")])
        .await
        .assert_status(303);
    let cid: i32 = {
        use diesel::prelude::*;
        use zhijia::db::schema::comments as c;
        c::table
            .filter(c::owner_type.eq("news"))
            .filter(c::owner_id.eq(id))
            .select(c::id)
            .first(&mut app.conn())
            .unwrap()
    };
    app.logout().await;
    // Branch B's member cannot read the article, so cannot report under it.
    app.login_ok("demo-member-b").await;
    app.get(&format!("/news/{id}")).await.assert_status(404);
    app.post(&format!("/comments/{cid}/report"), &[("reason", "广告")])
        .await
        .assert_status(404);
    assert_eq!(
        app.count(&format!("comment_reports WHERE comment_id = {cid}")),
        0
    );
    app.logout().await;
    // A reader of the article can.
    app.login_ok("demo-member").await;
    app.post(&format!("/comments/{cid}/report"), &[("reason", "广告")])
        .await
        .assert_status(303);
    assert_eq!(
        app.count(&format!("comment_reports WHERE comment_id = {cid}")),
        1
    );
}

#[actix_web::test]
async fn a_comment_on_an_article_with_comments_off_is_refused_and_not_stored() {
    use diesel::prelude::*;
    use zhijia::db::schema::news_articles as n;
    let mut app = spawn_base().await;
    let root = zhijia::org::model::find(&mut app.conn(), 1)
        .unwrap()
        .unwrap()
        .id;
    app.login_ok("demo-admin").await;
    let id = publish(
        &mut app,
        "评论关闭的通知",
        "本通知不开放评论。",
        &[root],
        false,
    )
    .await;
    let on: bool = n::table
        .find(id)
        .select(n::comments_enabled)
        .first(&mut app.conn())
        .unwrap();
    assert!(!on);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get(&format!("/news/{id}"))
        .await
        .assert_ok_without("发表评论");
    let before = app.count("comments");
    let r = app
        .post(&format!("/news/{id}/comments"), &[("body", "我想评论")])
        .await;
    r.assert_status(303);
    app.get(r.location())
        .await
        .assert_contains("这篇资讯未开放评论");
    assert_eq!(app.count("comments"), before);
}

/// Search keeps to what the member may read before it ranks (issue 34): 250 articles of
/// another subsidiary with the word twice in the title rank above the one article of the
/// member's own branch that has it once in the body, and that one is still found; none of
/// the others is shown.
#[actix_web::test]
async fn search_finds_the_members_article_under_many_better_ranked_invisible_ones() {
    let mut app = spawn_base().await;
    let now = app.state.config.clock.now();
    let member = app.member_id("demo-member");
    let (own_unit, other_unit) = {
        let mut conn = app.conn();
        let own = crate::builders::user(&mut conn, "demo-member").unit_id;
        let other = crate::builders::unit_id(&mut conn, "路桥分会");
        (own, other)
    };
    let put = |unit: i32, title: &str, body: &str| {
        crate::builders::article_in(&mut app.conn(), now, unit, title, body, false)
    };
    let mut hidden = Vec::new();
    for i in 0..250 {
        hidden.push(put(
            other_unit,
            &format!("安全生产月 安全生产检查通报（第{i}期）"),
            "路桥分会安全生产检查情况。",
        ));
    }
    let visible = put(own_unit, "本周工作安排", "周五下午学习安全生产有关规定。");
    // The direct computation: the member's visible articles with the word.
    let user = zhijia::auth::user::load_user(&mut app.conn(), member, "")
        .unwrap()
        .unwrap();
    let anc = zhijia::org::scope::ancestors(&user);
    let (list, _) =
        zhijia::news::model::visible(&mut app.conn(), &anc, now, None, None, 1000, 0).unwrap();
    let direct: Vec<i32> = list
        .iter()
        .filter(|a| a.title.contains("安全生产") || a.id == visible)
        .map(|a| a.id)
        .collect();
    assert_eq!(
        direct,
        vec![visible],
        "only one of them is the member's to read"
    );
    app.login_ok("demo-member").await;
    let r = app.get("/search?q=安全生产").await;
    r.assert_status(200);
    assert!(
        r.body.contains(&format!("/news/{visible}\"")),
        "the member's own article is found"
    );
    for id in &hidden {
        assert!(
            !r.body.contains(&format!("/news/{id}\"")),
            "article {id} leaked"
        );
    }
}
