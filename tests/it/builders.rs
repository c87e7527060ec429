//! Test builders: the small union most tests start from (`spawn_base`), and helpers that add
//! one thing each — a unit, a member with a role, an article, an activity with sign-ups, a case
//! or a request in a given state. Tests say what they need here instead of leaning on the demo,
//! so changing the demo breaks only the tests about the demo.

use chrono::{Duration, NaiveDateTime};
use zhijia::audit::Actor;
use zhijia::db::ids::{MemberId, RequestId, UnitId};
use zhijia::db::DbConnection;
use zhijia::members::model::{self as members, NewMember};
use zhijia::org::{self, Role};

/// The password every builder account has (the demo's, so a test reads the same either way).
pub const PASSWORD: &str = "zhijia-demo";

/// The base union's tree: (name, kind, parent's name); the first row is the root. Two
/// subsidiaries have a branch called 机关分会, so a name alone can be ambiguous, as in life.
pub const UNITS: &[(&str, &str, &str)] = &[
    ("中建华能集团工会", "group", ""),
    ("第一工程公司工会", "subsidiary", "中建华能集团工会"),
    ("第二工程公司工会", "subsidiary", "中建华能集团工会"),
    ("机关分会", "branch", "第一工程公司工会"),
    ("项目一部分会", "branch", "第一工程公司工会"),
    ("钢筋班组", "team", "项目一部分会"),
    ("机关分会", "branch", "第二工程公司工会"),
    ("路桥分会", "branch", "第二工程公司工会"),
    ("市政分会", "branch", "第二工程公司工会"),
];

/// The base union's accounts: (login, name, phone, unit index in UNITS, role at that unit).
/// The same logins, names and roles as the demo's fixed accounts, a cadre for the second
/// subsidiary's 路桥分会, a chair for that subsidiary and one for the group.
pub const ACCOUNTS: &[(&str, &str, &str, usize, Option<Role>)] = &[
    ("demo-member", "王小明", "13800000001", 3, None),
    ("demo-member-b", "李晓红", "13800000002", 4, None),
    ("demo-cadre", "张建国", "13800000003", 3, Some(Role::Cadre)),
    ("demo-cadre-b", "刘芳", "13800000004", 4, Some(Role::Cadre)),
    ("demo-chair", "陈志强", "13800000005", 1, Some(Role::Chair)),
    (
        "demo-finance",
        "赵丽",
        "13800000006",
        1,
        Some(Role::Finance),
    ),
    ("demo-admin", "系统管理员", "", 0, None),
    ("road-cadre", "孙路桥", "13800000007", 7, Some(Role::Cadre)),
    ("sub2-chair", "周二司", "13800000008", 2, Some(Role::Chair)),
    ("group-chair", "吴集团", "13800000009", 0, Some(Role::Chair)),
];

/// One hash of PASSWORD per test process (hashing is the slow part of making accounts).
pub fn password_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        zhijia::auth::password::hash_blocking(zhijia::config::HashCost::TEST, PASSWORD)
            .expect("hash the test password")
    })
}

/// Build the base union into an empty database.
pub fn seed_base(conn: &mut DbConnection, now: NaiveDateTime) {
    let actor = Actor::system("测试", now);
    let mut ids: Vec<i32> = Vec::new();
    for (name, kind, parent) in UNITS {
        let unit = if parent.is_empty() {
            org::service::create_root(conn, &actor, name, kind)
        } else {
            let p = UNITS
                .iter()
                .position(|(n, _, _)| n == parent)
                .expect("parent listed first");
            org::service::create_child(conn, None, &actor, ids[p], name, kind)
        }
        .expect("create unit");
        ids.push(unit.id);
    }
    for (login, name, phone, unit, role) in ACCOUNTS {
        let phone = Some(*phone).filter(|p| !p.is_empty());
        let admin = *login == "demo-admin";
        let id = insert_account(conn, now, login, name, phone, ids[*unit], admin);
        if let Some(role) = role {
            members::insert_role(conn, MemberId(id), UnitId(ids[*unit]), *role, now)
                .expect("grant role");
        }
    }
    let member = members::find_by_employee_no(conn, "demo-member")
        .unwrap()
        .unwrap();
    let cadre = members::find_by_employee_no(conn, "demo-cadre")
        .unwrap()
        .unwrap();
    members::set_grid_cadre(conn, MemberId(member.id), Some(MemberId(cadre.id)), now)
        .expect("grid cadre");
}

/// A member with the test password in a unit; returns the id.
pub fn add_member_in(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    employee_no: &str,
    name: &str,
    unit_id: i32,
) -> i32 {
    insert_account(conn, now, employee_no, name, None, unit_id, false)
}

fn insert_account(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    employee_no: &str,
    name: &str,
    phone: Option<&str>,
    unit_id: i32,
    is_admin: bool,
) -> i32 {
    members::insert(
        conn,
        &NewMember {
            employee_no,
            phone,
            name,
            unit_id,
            password_hash: Some(password_hash()),
            must_change_password: false,
            is_admin,
            disabled: false,
            created_at: now,
            updated_at: now,
        },
    )
    .expect("insert member")
}

/// The standard benefit catalogue, and this and last year's budgets (慰问 200,000 元, 帮扶
/// 300,000 元, 普惠 50,000 元) for the group and each subsidiary.
pub fn benefit_catalogue(conn: &mut DbConnection, now: NaiveDateTime) {
    use chrono::Datelike;
    zhijia::benefits::catalogue::insert_standard(conn, now).expect("catalogue");
    for u in org::model::all(conn).unwrap() {
        if u.kind == "subsidiary" || u.parent_id.is_none() {
            for (cat, yuan) in [("greeting", 200_000i64), ("aid", 300_000), ("perk", 50_000)] {
                for year in [now.year(), now.year() - 1] {
                    zhijia::benefits::model::set_budget(conn, u.id, year, cat, yuan * 100, now)
                        .expect("budget");
                }
            }
        }
    }
}

/// A member's request for catalogue item `item` (every field filled in, a PDF for each
/// required material), taken through the approval chain when `approved`: each step by the nearest holder of its role above the
/// applicant who has not approved before. Returns the request's id.
pub fn benefit_request(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    member_no: &str,
    item: &str,
    amount_yuan: &str,
    approved: bool,
) -> i32 {
    use zhijia::benefits::{model, service};
    let item = model::items(conn)
        .unwrap()
        .into_iter()
        .find(|i| i.name == item)
        .unwrap_or_else(|| panic!("no catalogue item {item}"));
    let applicant = user(conn, member_no);
    let form = service::ApplyForm {
        amount: amount_yuan.into(),
        event: "测试事由".into(),
        values: item.fields().iter().map(|_| "测试".to_string()).collect(),
        submit_token: zhijia::auth::random_token(16),
    };
    let files: Vec<service::File> = item
        .attachments()
        .iter()
        .map(|name| {
            (
                format!("{name}.pdf"),
                "application/pdf",
                b"%PDF-1.4\n%%EOF\n".to_vec(),
            )
        })
        .collect();
    let id = service::apply(conn, &applicant, item.id, &form, &files, now).expect("apply");
    // Each step by the first staff account the app's own rule (`may_decide`) lets take it.
    let staff: Vec<zhijia::auth::User> = ACCOUNTS
        .iter()
        .filter(|a| a.4.is_some())
        .map(|a| user(conn, a.0))
        .collect();
    while let (true, Some(req)) = (approved, model::request(conn, id).unwrap()) {
        if req.current_role().is_none() {
            break;
        }
        let done = model::approver_ids(conn, RequestId(id)).unwrap();
        let unit = org::model::find(conn, req.unit_id).unwrap().unwrap();
        let approver = staff
            .iter()
            .find(|u| service::may_decide(u, &req, &done, &unit.path).is_ok())
            .expect("an approver for the step");
        let actor = Actor::user(approver, None, now);
        service::decide(
            conn,
            approver,
            &actor,
            id,
            req.version,
            service::Decision::Approve,
        )
        .expect("approve a step");
    }
    id
}

/// A member as the app sees a logged-in user.
pub fn user(conn: &mut DbConnection, employee_no: &str) -> zhijia::auth::User {
    let m = members::find_by_employee_no(conn, employee_no)
        .unwrap()
        .unwrap_or_else(|| panic!("no member {employee_no}"));
    zhijia::auth::user::load_user(conn, m.id, "")
        .unwrap()
        .unwrap()
}

/// `n` members named 测试1… with employee numbers `{prefix}00001`… in the unit with id
/// `unit_id`; returns their ids.
pub fn add_members(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    unit_id: i32,
    prefix: &str,
    n: usize,
) -> Vec<i32> {
    (0..n)
        .map(|i| {
            let no = format!("{prefix}{:05}", i + 1);
            add_member_in(conn, now, &no, &format!("测试{}", i + 1), unit_id)
        })
        .collect()
}

/// The id of the first unit named `name` (the first subsidiary's, for 机关分会).
pub fn unit_id(conn: &mut DbConnection, name: &str) -> i32 {
    org::model::find_by_name(conn, name)
        .unwrap()
        .first()
        .unwrap_or_else(|| panic!("no unit {name}"))
        .id
}

/// A published article of `unit` for that unit's subtree, in the first news category,
/// published an hour ago; returns its id.
pub fn article(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    unit: &str,
    title: &str,
    body: &str,
    comments: bool,
) -> i32 {
    let unit_id = unit_id(conn, unit);
    article_in(conn, now, unit_id, title, body, comments)
}

/// `article`, for a unit given by id (names such as 机关分会 repeat in the tree).
pub fn article_in(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    unit_id: i32,
    title: &str,
    body: &str,
    comments: bool,
) -> i32 {
    use zhijia::news::model as news;
    let category = news::categories(conn).unwrap()[0].id;
    let admin = members::find_by_employee_no(conn, "demo-admin")
        .unwrap()
        .unwrap()
        .id;
    let published = now - Duration::hours(1);
    let summary: String = body.chars().take(80).collect();
    let data = news::ArticleData {
        category_id: category,
        unit_id,
        title,
        summary: &summary,
        body_md: body,
        pinned: false,
        mandatory: false,
        draft: false,
        publish_at: published,
        title_tokens: &zhijia::search::token_string(title),
        body_tokens: &zhijia::search::token_string(&format!("{summary} {body}")),
        comments_enabled: comments,
        updated_at: published,
    };
    let id = news::insert(conn, &data, admin, published).expect("insert article");
    news::set_audience(conn, id, &[unit_id]).expect("article audience");
    id
}

/// A showcase post by `member_no` with one photo; approved by the cadre of the author's unit
/// (or its nearest ancestor's) when `approved`. Returns its id.
pub fn showcase_post(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    member_no: &str,
    title: &str,
    approved: bool,
) -> i32 {
    use zhijia::showcase::service;
    let author = user(conn, member_no);
    let photo = zhijia::images::process_now("photo.png", &zhijia::demo::demo_picture(0))
        .expect("a picture");
    let form = service::PostForm {
        category: "才艺展示".into(),
        title: title.into(),
        story: format!("{title}：分享给大家。"),
    };
    let id = service::submit(conn, &author, &form, &[photo], now).expect("submit post");
    if approved {
        let admin = user(conn, "demo-admin");
        let actor = Actor::user(&admin, None, now);
        service::decide(conn, &admin, &actor, id, 0, true, "").expect("approve post");
    }
    id
}

/// A published activity of `unit` for its subtree: starts `starts_in` from now, sign-up open
/// from a day ago until it starts. Returns its id.
pub fn activity(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    unit: &str,
    title: &str,
    capacity: i32,
    starts_in: Duration,
) -> i32 {
    use zhijia::activities::model as am;
    let unit_id = unit_id(conn, unit);
    let admin = members::find_by_employee_no(conn, "demo-admin")
        .unwrap()
        .unwrap()
        .id;
    let starts = now + starts_in;
    let description = format!("{title}，欢迎报名。");
    let data = am::ActivityData {
        unit_id,
        title,
        kind: "文体活动",
        description: &description,
        place: "职工活动中心",
        starts_at: starts,
        ends_at: starts + Duration::hours(2),
        capacity,
        signup_opens_at: now - Duration::days(1),
        signup_closes_at: starts,
        extra_fields: "",
        published: true,
        title_tokens: &zhijia::search::token_string(title),
        body_tokens: &zhijia::search::token_string(&description),
        updated_at: now,
    };
    let id =
        am::insert(conn, &data, admin, &zhijia::auth::random_token(16), now).expect("activity");
    am::set_audience(conn, id, &[unit_id]).expect("activity audience");
    id
}

/// A small PDF attached to `owner` (("benefit", id), ("grievance", id) …); returns its id.
pub fn attachment(conn: &mut DbConnection, now: NaiveDateTime, owner: (&str, i32)) -> i32 {
    zhijia::attachments::insert(
        conn,
        owner,
        "证明.pdf",
        "application/pdf",
        b"%PDF-1.4\n%%EOF\n",
        now,
    )
    .expect("attachment");
    zhijia::attachments::list(conn, owner)
        .unwrap()
        .last()
        .expect("the attachment")
        .id
}

/// What a member's pages show, in some quantity: `articles` articles of 第一工程公司工会 (so a
/// list has more than one page past 20), three approved showcase posts of branch A with a
/// comment each, and two activities open for sign-up.
pub fn pages_full(conn: &mut DbConnection, now: NaiveDateTime, articles: usize) {
    for i in 0..articles {
        let title = format!("工会通知第{}号", i + 1);
        article(
            conn,
            now,
            "第一工程公司工会",
            &title,
            "请各分会工会小组长周五下午参加会议。",
            true,
        );
    }
    let colleague = user(conn, "demo-cadre");
    for title in [
        "抢修一线的二十四小时",
        "三十年如一日的焊花",
        "职工书屋读书分享会",
    ] {
        let id = showcase_post(conn, now, "demo-member", title, true);
        zhijia::comments::add(
            conn,
            &colleague,
            zhijia::comments::Owner::Showcase(id),
            "为我们的职工点赞！",
            now,
        )
        .expect("comment");
    }
    activity(conn, now, "机关分会", "午间健步走", 30, Duration::days(3));
    activity(
        conn,
        now,
        "第一工程公司工会",
        "职工乒乓球赛",
        16,
        Duration::days(6),
    );
}

/// The 2026 National Day week on the working-day calendar: 1–7 October off, Saturday
/// 10 October a make-up working day.
pub fn national_day_2026(conn: &mut DbConnection, now: NaiveDateTime) {
    use zhijia::workflow::calendar;
    let mut lines: Vec<String> = (1..=7)
        .map(|d| format!("2026-10-{d:02},休,国庆节"))
        .collect();
    lines.push("2026-10-10,班,国庆节调休".into());
    let days = calendar::parse_lines(&lines.join("\n")).expect("calendar lines");
    calendar::set_days(conn, &Actor::system("测试", now), &days).expect("calendar");
}

/// Six months of engagement events for every member (20 more in each of branches A and B
/// first): each member comes back on a fixed share of days, at a few hours, on phone or
/// desktop, to the home page, news, activities, the gallery or search. Not rolled up yet.
pub fn engagement_history(conn: &mut DbConnection, now: NaiveDateTime, secret: &[u8]) {
    use zhijia::engagement::{hour_of, member_key, Event};
    for (unit, prefix) in [("机关分会", "EA"), ("项目一部分会", "EB")] {
        let id = unit_id(conn, unit);
        add_members(conn, now, id, prefix, 20);
    }
    let (rows, _) = members::search(conn, None, &Default::default(), 10_000).unwrap();
    let places = ["home", "news", "activity", "showcase", "search"];
    let hours = [8i64, 12, 13, 18, 20, 21];
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let key = member_key(secret, r.member.id);
        // Member i comes on (i mod 5 + 1) days in 7; one in five stopped two months ago.
        let stopped = if i % 5 == 4 { 60 } else { 0 };
        for d in (stopped + 1)..=180i64 {
            if (d * 3 + i as i64) % 7 > (i % 5) as i64 {
                continue;
            }
            let at = now - Duration::days(d) + Duration::hours(hours[(d as usize + i) % 6] - 10);
            out.push(Event {
                member_key: key.clone(),
                unit_id: r.member.unit_id,
                object_type: places[(d as usize * 7 + i) % places.len()],
                object_id: None,
                action: "view",
                hour: hour_of(at),
                device: if (d as usize + i).is_multiple_of(3) {
                    "desktop"
                } else {
                    "phone"
                },
            });
        }
    }
    zhijia::engagement::model::insert_many(conn, &out).expect("events");
}

/// `member_no` signs up for activity `id` (as the member would, through the service).
pub fn sign_up(conn: &mut DbConnection, now: NaiveDateTime, member_no: &str, id: i32) {
    let who = user(conn, member_no);
    zhijia::activities::service::sign_up(conn, &who, id, &[], now).expect("sign up");
}

/// A named grievance filed by `member_no` (routed as the form would route it); returns its
/// public reference.
pub fn grievance(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    member_no: &str,
    title: &str,
) -> String {
    use zhijia::grievances::service;
    let who = user(conn, member_no);
    let form = service::SubmitForm {
        category: "pay".into(),
        title: title.into(),
        description: "三月份加班费至今未发放，车间主任说要等年底统一结算。".into(),
        desired_outcome: "按劳动法足额发放加班费。".into(),
        anonymous: false,
        unit_id: String::new(),
        submit_token: zhijia::auth::random_token(16),
    };
    service::submit(conn, &who, &form, &[], now).expect("file a case");
    zhijia::grievances::model::ref_by_submit_token(conn, &form.submit_token)
        .unwrap()
        .expect("the case")
        .0
}

/// A named survey of 第一工程公司工会 by its chair, open for a week: one single-choice question.
/// Returns (survey id, question id).
pub fn survey(conn: &mut DbConnection, now: NaiveDateTime, title: &str) -> (i32, i32) {
    use zhijia::surveys::{model, service};
    let chair = user(conn, "demo-chair");
    let to_local = |t: NaiveDateTime| zhijia::activities::service::to_local(&t);
    let form = service::SurveyForm {
        title: title.into(),
        description: String::new(),
        anonymous: String::new(),
        results_visibility: "after_answer".into(),
        opens_at: to_local(now - Duration::minutes(1)),
        closes_at: to_local(now + Duration::days(7)),
        source: "[单选] 满意吗 *\n满意\n不满意".into(),
    };
    let unit = unit_id(conn, "第一工程公司工会");
    let id = service::create(
        conn,
        &chair,
        &Actor::user(&chair, None, now),
        &form,
        &[unit],
    )
    .expect("survey");
    let q = model::questions(conn, id).unwrap()[0].id;
    (id, q)
}

/// A row for `member_no` in every table a member's data export reads: a role, a sign-up, a
/// survey answer, a case, a benefit request, a post with a like, a comment and a report, a
/// read receipt, notifications.
pub fn member_footprint(conn: &mut DbConnection, now: NaiveDateTime, member_no: &str) {
    let me = user(conn, member_no);
    let team = unit_id(conn, "钢筋班组");
    members::insert_role(conn, MemberId(me.id), UnitId(team), Role::Finance, now).expect("role");
    let act = activity(
        conn,
        now,
        "第一工程公司工会",
        &format!("{member_no} 的活动"),
        30,
        Duration::days(3),
    );
    sign_up(conn, now, member_no, act);
    let (s, q) = survey(conn, now, &format!("{member_no} 的问卷"));
    // Choices are posted by their index: 0 = 满意.
    let posted = std::collections::HashMap::from([(q, vec!["0".to_string()])]);
    zhijia::surveys::service::submit(conn, &me, s, &posted, now)
        .expect("answer")
        .expect("a valid answer");
    grievance(conn, now, member_no, &format!("{member_no} 的申诉"));
    benefit_request(conn, now, member_no, "健身卡补贴", "100", true);
    let post = showcase_post(conn, now, member_no, &format!("{member_no} 的照片"), true);
    zhijia::showcase::service::like(conn, &me, post, now).expect("like");
    zhijia::comments::add(
        conn,
        &me,
        zhijia::comments::Owner::Showcase(post),
        "自己的评论",
        now,
    )
    .expect("comment");
    let colleague = user(conn, "demo-cadre");
    let theirs = zhijia::comments::add(
        conn,
        &colleague,
        zhijia::comments::Owner::Showcase(post),
        "同事的评论",
        now,
    )
    .expect("comment");
    zhijia::comments::report(conn, &me, theirs, "测试举报", now).expect("report");
    let news = article(
        conn,
        now,
        "第一工程公司工会",
        &format!("{member_no} 读过的通知"),
        "正文",
        true,
    );
    zhijia::news::model::record_read(conn, news, me.id, now).expect("read");
}
