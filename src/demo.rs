//! `zhijia demo`: a realistic union to explore — a group union, three subsidiary unions, eleven
//! branches and some teams, ~300 members with Chinese names, cadres and chairs at every level,
//! and the fixed demo accounts (password `zhijia-demo`).

// Generates demo data from the fixed tables in this file and never sees request input.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use chrono::NaiveDateTime;

use crate::audit::Actor;
use crate::auth::password::hash_blocking;
use crate::db::ids::{MemberId, UnitId};
use crate::db::{write_tx, DbConnection};
use crate::error::AppResult;
use crate::members::model::{self as members, NewMember};
use crate::org::{self, OrgUnit, Role};
use crate::state::AppState;

pub const DEMO_PASSWORD: &str = "zhijia-demo";

/// (login, name, what it is)
pub const ACCOUNTS: &[(&str, &str, &str)] = &[
    (
        "demo-member",
        "王小明",
        "会员，第一工程公司工会 · 机关分会（分会 A）",
    ),
    (
        "demo-member-b",
        "李晓红",
        "会员，第一工程公司工会 · 项目一部分会（分会 B）",
    ),
    (
        "demo-cadre",
        "张建国",
        "分会 A 工会干部，demo-member 的网格员",
    ),
    ("demo-cadre-b", "刘芳", "分会 B 工会干部"),
    (
        "demo-chair",
        "陈志强",
        "第一工程公司工会主席（A、B 的上级工会）",
    ),
    ("demo-finance", "赵丽", "第一工程公司工会财务"),
    ("demo-admin", "系统管理员", "系统管理员"),
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "志刚", "海燕", "丹", "鑫", "波", "宁", "婷",
    "浩然", "子涵", "俊杰", "欣怡", "晓东", "红梅", "国庆", "建军", "春生", "立新", "思远", "雨桐",
];

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-9);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Seed the demo union unless it is already there; print the accounts either way.
pub fn seed(state: &AppState) -> AppResult<()> {
    let mut conn = state.pool.get()?;
    let now = state.config.clock.now();
    if members::find_by_employee_no(&mut conn, "demo-admin")?.is_some() {
        println!("演示数据已存在。");
    } else {
        let started = std::time::Instant::now();
        println!("正在生成演示数据……");
        // One hash for every demo account: they share the published demo password anyway.
        let hash = hash_blocking(state.config.hash_cost, DEMO_PASSWORD)?;
        let n = write_tx(&mut conn, |conn| seed_in(conn, &hash, now))?;
        write_tx(&mut conn, |conn| crate::outbox::demo::agree(conn, now))?;
        // The working-day calendar first: the seeded cases' time limits count by it.
        let days = crate::workflow::calendar::parse_lines(crate::workflow::calendar::DEMO_2026)
            .map_err(|e| crate::error::AppError::Internal(e.join("; ")))?;
        crate::workflow::calendar::set_days(
            &mut conn,
            &crate::audit::Actor::system("演示数据", now),
            &days,
        )?;
        let g = write_tx(&mut conn, |conn| seed_grievances(conn, now))?;
        let b = write_tx(&mut conn, |conn| seed_benefits(conn, now))?;
        let a = write_tx(&mut conn, |conn| seed_news(conn, now))?;
        let s = write_tx(&mut conn, |conn| seed_showcase(conn, now))?;
        let (act, signups) = write_tx(&mut conn, |conn| seed_activities(conn, now))?;
        let story = write_tx(&mut conn, |conn| seed_story_activities(conn, now))?;
        write_tx(&mut conn, |conn| seed_story_cases(conn, now))?;
        let act = act + story;
        let sv = write_tx(&mut conn, |conn| seed_surveys(conn, now))?;
        let ap = write_tx(&mut conn, |conn| {
            crate::membership::demo::seed(conn, &hash, &state.config.secret_key, now)
        })?;
        let pr = write_tx(&mut conn, |conn| crate::proposals::demo::seed(conn, now))?;
        let ml = write_tx(&mut conn, |conn| crate::mailbox::seed_demo(conn, now))?;
        let ob = write_tx(&mut conn, |conn| crate::outbox::demo::seed(conn, now))?;
        let ev = write_tx(&mut conn, |conn| {
            seed_engagement(conn, &state.config.secret_key, now)
        })?;
        crate::engagement::housekeeping(&mut conn, now)?;
        println!(
            "已创建 {n} 名会员、{g} 件维权申诉、{b} 件普惠申请、{a} 篇资讯、{s} 篇风采展示、\
             {act} 个活动（{signups} 人次报名，含 12 个月历史）、{sv} 份问卷、{ap} 份入会申请和 12 个月会费、{pr} 件职代会提案、{ml} 封主席信箱来信、{ob} 条站外提醒记录、{ev} 条参与行为记录（{:.1} 秒）。",
            started.elapsed().as_secs_f32()
        );
    }
    println!("\n演示账号（密码均为 {DEMO_PASSWORD}）：");
    for (login, name, what) in ACCOUNTS {
        println!("  {login:<15} {name:<6} {what}");
    }
    println!("\n打开 http://{} 登录。", state.config.bind);
    Ok(())
}

fn seed_in(conn: &mut DbConnection, hash: &str, now: NaiveDateTime) -> AppResult<usize> {
    let actor = Actor::system("演示数据", now);
    let root = match org::model::all(conn)?
        .into_iter()
        .find(|u| u.parent_id.is_none())
    {
        Some(r) => {
            org::model::rename(conn, r.id, "中建华能集团工会")?;
            r
        }
        None => org::service::create_root(conn, &actor, "中建华能集团工会", "group")?,
    };
    let child = |conn: &mut DbConnection, parent: &OrgUnit, name: &str, kind: &str| {
        org::service::create_child(conn, None, &actor, parent.id, name, kind)
    };
    let sub1 = child(conn, &root, "第一工程公司工会", "subsidiary")?;
    let sub2 = child(conn, &root, "第二工程公司工会", "subsidiary")?;
    let sub3 = child(conn, &root, "设计研究院工会", "subsidiary")?;
    let branch_a = child(conn, &sub1, "机关分会", "branch")?;
    let branch_b = child(conn, &sub1, "项目一部分会", "branch")?;
    let mut branches = vec![branch_a.clone(), branch_b.clone()];
    branches.push(child(conn, &sub1, "项目二部分会", "branch")?);
    branches.push(child(conn, &sub1, "物资设备分会", "branch")?);
    branches.push(child(conn, &sub2, "机关分会", "branch")?);
    branches.push(child(conn, &sub2, "路桥分会", "branch")?);
    branches.push(child(conn, &sub2, "市政分会", "branch")?);
    branches.push(child(conn, &sub3, "建筑设计所分会", "branch")?);
    branches.push(child(conn, &sub3, "结构所分会", "branch")?);
    branches.push(child(conn, &sub3, "勘察测绘分会", "branch")?);
    branches.push(child(conn, &root, "集团机关分会", "branch")?);
    let mut teams = Vec::new();
    for (b, names) in [
        (&branches[1], ["钢筋班组", "混凝土班组"]),
        (&branches[5], ["桥梁一组", "桥梁二组"]),
    ] {
        for n in names {
            teams.push(child(conn, b, n, "team")?);
        }
    }

    let mut count = 0usize;
    let mut add = |conn: &mut DbConnection,
                   no: &str,
                   name: &str,
                   phone: Option<String>,
                   unit: i32,
                   admin: bool| {
        count += 1;
        members::insert(
            conn,
            &NewMember {
                employee_no: no,
                phone: phone.as_deref(),
                name,
                unit_id: unit,
                password_hash: Some(hash),
                must_change_password: false,
                is_admin: admin,
                disabled: false,
                created_at: now,
                updated_at: now,
            },
        )
    };
    let grant = |conn: &mut DbConnection, m: i32, u: i32, r: Role| {
        members::insert_role(conn, MemberId(m), UnitId(u), r, now)
    };

    let demo_member = add(
        conn,
        "demo-member",
        "王小明",
        Some("13800000001".into()),
        branch_a.id,
        false,
    )?;
    add(
        conn,
        "demo-member-b",
        "李晓红",
        Some("13800000002".into()),
        branch_b.id,
        false,
    )?;
    let cadre = add(
        conn,
        "demo-cadre",
        "张建国",
        Some("13800000003".into()),
        branch_a.id,
        false,
    )?;
    grant(conn, cadre, branch_a.id, Role::Cadre)?;
    let cadre_b = add(
        conn,
        "demo-cadre-b",
        "刘芳",
        Some("13800000004".into()),
        branch_b.id,
        false,
    )?;
    grant(conn, cadre_b, branch_b.id, Role::Cadre)?;
    let chair = add(
        conn,
        "demo-chair",
        "陈志强",
        Some("13800000005".into()),
        sub1.id,
        false,
    )?;
    grant(conn, chair, sub1.id, Role::Chair)?;
    let finance = add(
        conn,
        "demo-finance",
        "赵丽",
        Some("13800000006".into()),
        sub1.id,
        false,
    )?;
    grant(conn, finance, sub1.id, Role::Finance)?;
    add(conn, "demo-admin", "系统管理员", None, root.id, true)?;
    members::set_grid_cadre(conn, MemberId(demo_member), Some(MemberId(cadre)), now)?;

    // ~290 ordinary members spread over branches and teams; the first at each unit is its cadre,
    // and each union above the branches gets a chair.
    let mut rng = Lcg(20261127);
    let mut places: Vec<&OrgUnit> = branches.iter().chain(teams.iter()).collect();
    places.extend([&sub1, &sub2, &sub3, &root]);
    let mut staffed = std::collections::HashSet::from([branch_a.id, branch_b.id, sub1.id]);
    for i in 0..293 {
        let unit = places[i % places.len()];
        let name = format!(
            "{}{}",
            SURNAMES[rng.next() % SURNAMES.len()],
            GIVEN[rng.next() % GIVEN.len()]
        );
        let no = format!("ZJ{:05}", 10001 + i);
        let phone = format!("139{:08}", 10_000_000 + i * 7919 % 89_999_999);
        let id = add(conn, &no, &name, Some(phone), unit.id, false)?;
        if staffed.insert(unit.id) {
            let role = if unit.kind == "branch" || unit.kind == "team" {
                Role::Cadre
            } else {
                Role::Chair
            };
            grant(conn, id, unit.id, role)?;
        }
    }
    Ok(count)
}

const CASES: &[(&str, &str, &str)] = &[
    (
        "pay",
        "三月加班费至今未发放",
        "车间三月份连续加班 12 天，加班费至今没有发放，班组长说要等年底统一结算。",
    ),
    (
        "hours",
        "年休假申请多次被驳回",
        "今年申请了三次年休假都被部门驳回，理由是项目忙，但其他同事可以正常休假。",
    ),
    (
        "safety",
        "工地安全帽破损无人更换",
        "钢筋班组有七八顶安全帽已经开裂，报给安全员两周了还没有更换。",
    ),
    (
        "contract",
        "劳动合同到期未续签",
        "我的劳动合同上个月到期，单位既没有续签也没有通知终止，仍在正常上班。",
    ),
    (
        "insurance",
        "社保缴费基数明显偏低",
        "查询社保记录发现单位按最低基数给我缴费，和实际工资差距很大。",
    ),
    (
        "bullying",
        "班组长经常当众辱骂员工",
        "班组长开会时经常当众辱骂年轻员工，有同事因此情绪低落想辞职。",
    ),
    (
        "hours",
        "夜班后第二天仍被安排白班",
        "连续上完夜班后第二天早上八点又被排白班，休息时间严重不足。",
    ),
    (
        "pay",
        "高温补贴未按标准发放",
        "七八月份在室外作业，高温补贴只发了一半，没有说明原因。",
    ),
    (
        "safety",
        "宿舍楼消防通道被杂物堵塞",
        "项目部宿舍楼二楼消防通道堆满了材料和杂物，存在安全隐患。",
    ),
    (
        "other",
        "食堂卫生状况较差",
        "项目部食堂餐具清洗不干净，最近有几位同事吃完后肠胃不适。",
    ),
];

/// ~40 grievances in every state over the last month, some anonymous and some overdue.
fn seed_grievances(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    use crate::grievances::service::{self, CadreAction, MemberAction, SubmitForm, Submitted};
    let user = |conn: &mut DbConnection, no: &str| -> AppResult<crate::auth::User> {
        let id = members::find_by_employee_no(conn, no)?
            .map(|m| m.id)
            .ok_or(crate::error::AppError::NotFound)?;
        crate::auth::user::load_user(conn, id, "")?.ok_or(crate::error::AppError::NotFound)
    };
    let filers = [
        "demo-member",
        "demo-member-b",
        "ZJ10001",
        "ZJ10002",
        "ZJ10003",
        "ZJ10004",
        "ZJ10012",
        "ZJ10013",
    ];
    let chair = user(conn, "demo-chair")?;
    let cadre_a = user(conn, "demo-cadre")?;
    let cadre_b = user(conn, "demo-cadre-b")?;
    let mut count = 0;
    for i in 0..40usize {
        let filer = user(conn, filers[i % filers.len()])?;
        let (category, title, text) = CASES[i % CASES.len()];
        let target = i % 8;
        // Answers wait 7 days for a rating: keep those recent so some stay 已答复.
        let days_ago = if target == 3 {
            1 + i % 6
        } else {
            1 + (i * 7) % 28
        };
        let filed = now
            - chrono::Duration::days(days_ago as i64)
            - chrono::Duration::minutes((i * 37 % 600) as i64);
        let anonymous = i % 5 == 4;
        let form = SubmitForm {
            category: category.into(),
            title: title.into(),
            description: text.into(),
            desired_outcome: "希望工会协调解决，并给出明确答复。".into(),
            anonymous,
            unit_id: filer.unit_id.to_string(),
            submit_token: format!("demo-case-{i:03}-0000000000"),
        };
        let case_ref = match service::submit(conn, &filer, &form, &[], filed)? {
            Submitted::Named(r) => r,
            Submitted::Anonymous(r) => {
                let id = crate::grievances::model::find_by_receipt(
                    conn,
                    &crate::auth::digest(&[
                        b"zhijia-receipt",
                        service::normalize_receipt(&r).as_bytes(),
                    ]),
                )?
                .map(|g| g.public_ref)
                .ok_or(crate::error::AppError::NotFound)?;
                id
            }
            Submitted::Duplicate { case_ref, .. } => case_ref,
        };
        count += 1;
        let cadre = if filer.unit_id == cadre_a.unit_id {
            &cadre_a
        } else if filer.unit_id == cadre_b.unit_id {
            &cadre_b
        } else {
            &chair
        };
        // Steps up to the target state, a few hours apart.
        let steps: &[&str] = match target {
            0 | 7 => &[],
            1 => &["accept"],
            2 => &["accept", "reply"],
            3 => &["accept", "reply", "answer"],
            4 | 5 => &["accept", "reply", "answer", "rate"],
            _ => &["reject"],
        };
        // Recent cases waiting for acceptance stay within their time limit; older ones go overdue.
        if target == 0 && days_ago > 2 {
            continue;
        }
        let mut t = filed;
        for step in steps {
            t += chrono::Duration::hours(5);
            let g = crate::grievances::model::find_by_ref(conn, &case_ref)?
                .ok_or(crate::error::AppError::NotFound)?;
            let actor = crate::audit::Actor::user(cadre, None, t);
            match *step {
                "rate" if target == 5 => {
                    service::cadre_act(
                        conn,
                        cadre,
                        &actor,
                        &case_ref,
                        g.version,
                        CadreAction::Close,
                    )?;
                }
                "rate" => service::member_act(
                    conn,
                    &g,
                    Some(&filer),
                    MemberAction::Rate {
                        rating: 3 + (i % 3) as i32,
                        comment: "处理及时，谢谢工会".into(),
                    },
                    t,
                )?,
                "accept" => service::cadre_act(
                    conn,
                    cadre,
                    &actor,
                    &case_ref,
                    g.version,
                    CadreAction::Accept,
                )?,
                "reply" => service::cadre_act(
                    conn,
                    cadre,
                    &actor,
                    &case_ref,
                    g.version,
                    CadreAction::Reply {
                        text: "已联系相关部门了解情况，请耐心等待。".into(),
                    },
                )?,
                "answer" => service::cadre_act(
                    conn,
                    cadre,
                    &actor,
                    &case_ref,
                    g.version,
                    CadreAction::Answer {
                        resolution: "经与单位协调，问题已解决，相关款项和安排已落实。".into(),
                    },
                )?,
                _ => service::cadre_act(
                    conn,
                    cadre,
                    &actor,
                    &case_ref,
                    g.version,
                    CadreAction::Reject {
                        reason: "该事项不属于工会维权受理范围，已建议向相关职能部门反映。".into(),
                    },
                )?,
            }
        }
    }
    // Escalate what is already past its limit, as the server's job would.
    service::run_deadlines(conn, now)?;
    Ok(count)
}

/// The benefit catalogue (within common union fund rules), this year's budgets, and ~60
/// requests in every state.
fn seed_benefits(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    use crate::benefits::model::set_budget;
    use crate::benefits::service::{self, ApplyForm, Decision};
    use chrono::Datelike;
    let ids = crate::benefits::catalogue::insert_standard(conn, now)?;
    let year = now.year();
    // Last year's budgets too: requests from the past weeks may fall in it (early January).
    for u in org::model::all(conn)?
        .iter()
        .filter(|u| u.kind == "subsidiary" || u.parent_id.is_none())
    {
        for (cat, yuan) in [("greeting", 200_000i64), ("aid", 300_000), ("perk", 50_000)] {
            set_budget(conn, u.id, year, cat, yuan * 100, now)?;
            set_budget(conn, u.id, year - 1, cat, yuan * 100, now)?;
        }
    }
    let user = |conn: &mut DbConnection, id: i32| -> AppResult<crate::auth::User> {
        crate::auth::user::load_user(conn, id, "")?.ok_or(crate::error::AppError::NotFound)
    };
    let find = |conn: &mut DbConnection, no: &str| -> AppResult<i32> {
        members::find_by_employee_no(conn, no)?
            .map(|m| m.id)
            .ok_or(crate::error::AppError::NotFound)
    };
    let by_no = |conn: &mut DbConnection, no: &str| -> AppResult<crate::auth::User> {
        let id = find(conn, no)?;
        user(conn, id)
    };
    let cadre_a = by_no(conn, "demo-cadre")?;
    let cadre_b = by_no(conn, "demo-cadre-b")?;
    let chair = by_no(conn, "demo-chair")?;
    let finance = by_no(conn, "demo-finance")?;
    let root = org::model::all(conn)?
        .into_iter()
        .find(|u| u.parent_id.is_none())
        .ok_or(crate::error::AppError::NotFound)?;
    let top_chair = match org::model::role_holders(conn, UnitId(root.id), &[Role::Chair])?.first() {
        Some(id) => Some(user(conn, id.0)?),
        None => None,
    };
    // Applicants: members of branches A and B (whose cadres are demo-cadre and demo-cadre-b).
    let mut applicants = Vec::new();
    for id in members::search(
        conn,
        Some(&[cadre_a.unit_id, cadre_b.unit_id]),
        &Default::default(),
        500,
    )?
    .0
    .into_iter()
    .map(|r| r.member.id)
    {
        let u = user(conn, id)?;
        if !u.is_staff() && u.employee_no != "demo-member" {
            applicants.push(u);
        }
    }
    let mut count = 0;
    for i in 0..60usize {
        let applicant = &applicants[i % applicants.len()];
        let item_ix = (i / applicants.len() + i) % 8; // skip 健身卡补贴 (index 8): left for the walkthrough
        let item = crate::benefits::model::item(conn, ids[item_ix])?
            .ok_or(crate::error::AppError::NotFound)?;
        let filed = now
            - chrono::Duration::days((1 + i % 25) as i64)
            - chrono::Duration::hours((i % 7) as i64);
        let amount = if item.is_fixed() {
            String::new()
        } else {
            crate::benefits::model::yuan(
                (item.amount_fen / 2 / 100 * 100).max(10000) + if i % 9 == 0 { 60000 } else { 0 },
            )
            .to_string()
        };
        let form = ApplyForm {
            amount,
            event: if item.per_event() {
                ["高血压", "腰椎间盘突出", "阑尾炎", "骨折"][i % 4].into()
            } else {
                String::new()
            },
            values: item
                .fields()
                .iter()
                .map(|f| format!("{f}（演示）"))
                .collect(),
            submit_token: format!("demo-benefit-{i:03}-00000000"),
        };
        let files: Vec<service::File> = item
            .attachments()
            .iter()
            .map(|a| {
                (
                    format!("{a}.pdf"),
                    "application/pdf",
                    b"%PDF-1.4 demo".to_vec(),
                )
            })
            .collect();
        let id = match service::apply(conn, applicant, item.id, &form, &files, filed) {
            Ok(id) => id,
            // Not eligible at that moment (the frequency rule): the demo skips it.
            Err(crate::error::AppError::Fields(_)) => continue,
            Err(e) => return Err(e),
        };
        count += 1;
        let first = if applicant.unit_id == cadre_a.unit_id {
            &cadre_a
        } else {
            &cadre_b
        };
        let mut t = filed;
        let mut step =
            |conn: &mut DbConnection, who: &crate::auth::User, d: Decision| -> AppResult<()> {
                t += chrono::Duration::hours(6);
                let v = crate::benefits::model::request(conn, id)?
                    .map(|r| r.version)
                    .unwrap_or(0);
                service::decide(
                    conn,
                    who,
                    &crate::audit::Actor::user(who, None, t),
                    id,
                    v,
                    d,
                )
            };
        match i % 7 {
            0 => {}
            1 => step(conn, first, Decision::Approve)?,
            2 => step(
                conn,
                first,
                Decision::Return {
                    note: "请补充清晰的证明材料扫描件。".into(),
                },
            )?,
            3 => step(
                conn,
                first,
                Decision::Reject {
                    reason: "经核实不符合申领条件。".into(),
                },
            )?,
            4 => {
                service::withdraw(conn, applicant, id, filed + chrono::Duration::hours(1))?;
            }
            _ => {
                let req = crate::benefits::model::request(conn, id)?
                    .ok_or(crate::error::AppError::NotFound)?;
                step(conn, first, Decision::Approve)?;
                if req.chain().len() > 1 {
                    step(conn, &chair, Decision::Approve)?;
                }
                if req.chain().len() > 2 {
                    match &top_chair {
                        Some(tc) => step(conn, tc, Decision::Approve)?,
                        None => continue,
                    }
                }
                if i % 7 == 6 {
                    let actor =
                        crate::audit::Actor::user(&finance, None, t + chrono::Duration::hours(20));
                    service::mark_paid(
                        conn,
                        &finance,
                        &actor,
                        &[id],
                        &format!("FK{}{:04}", year, i),
                    )?;
                }
            }
        }
    }
    Ok(count)
}

/// (category index, title, body) — realistic union news; each is published by several units.
const ARTICLES: &[(usize, &str, &str)] = &[
    (0, "关于开展2026年度“安康杯”竞赛活动的通知", "各分会：\n\n为深入贯彻安全生产方针，经研究，决定在全体会员中开展年度“安康杯”竞赛活动。\n\n## 一、活动时间\n\n即日起至年底。\n\n## 二、活动内容\n\n- 开展安全隐患排查\n- 组织应急演练\n- 评选安全生产先进班组\n\n请各分会高度重视，认真组织，确保活动取得实效。"),
    (0, "关于做好职工冬季送温暖工作的通知", "冬季将至，为切实做好困难职工帮扶工作，工会将开展“冬季送温暖”活动。请各分会摸清困难职工底数，于本月底前报送帮扶名单。\n\n**工会福利**政策详见附件说明。"),
    (0, "关于调整会员生日慰问标准的通知", "根据上级工会经费使用规定，自下月起会员生日慰问标准调整为每人 300 元，以蛋糕券或慰问品形式发放。会员可在“职工之家 › 服务 › 普惠慰问”中查看和申请。"),
    (0, "工会会费收缴工作的通知", "请各分会按规定于本季度末前完成会费收缴，会费按会员工资收入的 0.5% 缴纳。收缴情况将纳入年度工会工作考核。"),
    (1, "集团工会举办职工篮球赛", "本月，集团工会在体育中心举办职工篮球赛，来自各单位的 16 支代表队参赛。比赛历时五天，第一工程公司代表队获得冠军。赛事丰富了职工业余文化生活，增强了团队凝聚力。"),
    (1, "第二工程公司工会开展“金秋助学”活动", "第二工程公司工会为 12 名考入大学的职工子女发放助学金共计 3.6 万元，帮助困难职工家庭减轻负担。"),
    (1, "设计研究院工会组织青年职工读书分享会", "设计研究院工会举办青年职工读书分享会，30 余名青年职工交流读书心得，现场气氛热烈。"),
    (1, "工会干部培训班顺利结业", "为期三天的基层工会干部培训班顺利结业，培训内容包括工会法、职工维权、经费管理和智慧工会平台使用。"),
    (1, "劳模创新工作室获评省级示范", "集团“王建国劳模创新工作室”获评省级示范性劳模创新工作室，工作室近三年完成技术革新 26 项，创造经济效益逾千万元。"),
    (1, "项目一部开展夏季“送清凉”慰问", "项目一部分会为一线施工人员送去绿豆汤、防暑药品和毛巾，叮嘱大家做好防暑降温。"),
    (2, "《中华人民共和国工会法》要点解读", "工会法规定，工会是职工自愿结合的工人阶级群众组织。\n\n1. 维护职工合法权益是工会的基本职责。\n2. 工会依法参与企业民主管理。\n3. 企业应按工资总额 2% 拨缴工会经费。"),
    (2, "带薪年休假条例问答", "职工累计工作已满 1 年不满 10 年的，年休假 5 天；已满 10 年不满 20 年的，年休假 10 天；已满 20 年的，年休假 15 天。单位确因工作需要不能安排的，应按日工资收入的 300% 支付年休假工资报酬。"),
    (2, "劳动合同法常见问题", "用人单位自用工之日起即与劳动者建立劳动关系，应当订立书面劳动合同。超过一个月不满一年未订立书面劳动合同的，应当向劳动者每月支付二倍的工资。"),
    (3, "职工健身卡补贴开始申请", "会员办理健身卡可申请年度补贴，最高 500 元。请在“普惠慰问”中提交申请，由分会和工会主席审批后发放。"),
    (3, "中秋节慰问品发放安排", "中秋节慰问品将于节前一周发放，每位会员一份，请各分会组织领取，并做好登记。工会福利发放情况接受会员监督。"),
    (3, "会员体检福利升级", "今年会员年度体检增加了心脑血管和肿瘤标志物检查项目，体检时间为下月 1 日至 30 日，请会员按分会安排参加。"),
];

/// ~80 articles over the last months, for the group and each subsidiary union, a few pinned
/// and mandatory, with read receipts for most readers of the mandatory ones.
fn seed_news(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    use crate::news::model::{self as news, ArticleData};
    let cats = news::categories(conn)?;
    let units = org::model::all(conn)?;
    let publishers: Vec<&OrgUnit> = units
        .iter()
        .filter(|u| u.parent_id.is_none() || u.kind == "subsidiary")
        .collect();
    let admin = members::find_by_employee_no(conn, "demo-admin")?
        .map(|m| m.id)
        .ok_or(crate::error::AppError::NotFound)?;
    let mut count = 0;
    for round in 0..5 {
        for (i, (cat, title, body)) in ARTICLES.iter().enumerate() {
            let unit = publishers[(i + round) % publishers.len()];
            let title = if round == 0 {
                title.to_string()
            } else {
                format!("{title}（{}）", unit.name)
            };
            let body = body.to_string();
            let publish_at = now - chrono::Duration::hours((round * 400 + i * 23 + 1) as i64);
            let summary: String = body
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(80)
                .collect();
            let mandatory = round == 0 && *cat == 0 && i < 2;
            let data = ArticleData {
                category_id: cats[*cat].id,
                unit_id: unit.id,
                title: &title,
                summary: &summary,
                body_md: &body,
                pinned: round == 0 && i == 0,
                mandatory,
                draft: false,
                publish_at,
                title_tokens: &crate::search::token_string(&title),
                body_tokens: &crate::search::token_string(&format!("{summary} {body}")),
                comments_enabled: *cat == 1,
                updated_at: publish_at,
            };
            let id = news::insert(conn, &data, admin, publish_at)?;
            news::set_audience(conn, id, &[unit.id])?;
            if mandatory {
                // Two in three members of the audience have read it; demo-member has not.
                let ids: Vec<i32> =
                    org::model::under_paths(conn, std::slice::from_ref(&unit.path))?
                        .iter()
                        .map(|u| u.id)
                        .collect();
                let (rows, _) = members::search(conn, Some(&ids), &Default::default(), 10_000)?;
                for (k, r) in rows.iter().enumerate() {
                    if k % 3 != 0 && r.member.employee_no != "demo-member" {
                        news::record_read(
                            conn,
                            id,
                            r.member.id,
                            publish_at + chrono::Duration::hours(2),
                        )?;
                    }
                }
            }
            count += 1;
        }
    }
    Ok(count)
}

/// Showcase: (category, title, story).
const POSTS: &[(&str, &str, &str)] = &[
    ("劳模风采", "抢修一线的二十四小时", "台风过境的那一夜，王师傅带着抢修班在泵站守了整整二十四个小时。\n凌晨三点，积水没过膝盖，他第一个下到井里查电缆。天亮时泵站恢复供电，他在值班室的椅子上睡着了。"),
    ("劳模风采", "三十年如一日的焊花", "从学徒到全国技术能手，李师傅的焊缝合格率连续十年保持百分之百。\n他带出的二十多个徒弟，如今都成了车间的骨干。"),
    ("劳模风采", "把创新工作室搬到了现场", "“问题在现场，办法也在现场。”创新工作室今年完成技改项目十二项，节约成本三百余万元。"),
    ("活动剪影", "春季职工运动会精彩瞬间", "拔河、跳绳、趣味接力……一千二百多名职工参加了今年的春季运动会。\n机关分会在拔河比赛中逆转夺冠，现场欢呼声不断。"),
    ("活动剪影", "金秋助学金发放仪式", "今年共有四十六名职工子女领到金秋助学金。工会主席为孩子们送上书包和寄语：好好学习，将来回报社会。"),
    ("活动剪影", "职工书屋读书分享会", "十二位职工分享了自己最近读的书，从《平凡的世界》到《人工智能简史》。\n书屋新到图书三百册，欢迎大家借阅。"),
    ("活动剪影", "夏送清凉走进施工现场", "工会干部把绿豆汤、防暑药品和毛巾送到了高温下的施工一线，向坚守岗位的职工道一声辛苦。"),
    ("才艺展示", "我家的阳台花园", "下班后侍弄花草是我最放松的时刻。这一季的月季开得特别好，分享给大家。"),
    ("才艺展示", "书法习作：宁静致远", "练字五年，这是我最满意的一幅作品，请同事们多多指教。"),
    ("才艺展示", "周末骑行两百公里", "从市区出发，沿着江边骑到古镇再返回，全程两百公里。运动让人快乐！"),
    ("先进集体", "安全生产三千天", "第一工程公司第三项目部实现连续安全生产三千天，被评为年度安全生产先进集体。"),
    ("先进集体", "模范职工之家创建纪实", "从一间活动室到职工之家，分会用三年时间建起了母婴室、健身房和心理咨询室。"),
];

/// A simple generated scene in one of several palettes and compositions (hills and sun, a city
/// skyline, a lake with its reflection, a row of trees, a running track), as PNG bytes, so the
/// demo's photos differ from each other and go through the same upload path as real ones.
pub fn demo_picture(variant: usize) -> Vec<u8> {
    let palettes: [([u8; 3], [u8; 3], [u8; 3]); 6] = [
        ([255, 183, 77], [255, 236, 179], [56, 142, 60]),
        ([100, 181, 246], [227, 242, 253], [67, 160, 71]),
        ([186, 104, 200], [248, 187, 208], [85, 139, 47]),
        ([255, 138, 101], [255, 224, 178], [121, 85, 72]),
        ([77, 182, 172], [224, 247, 250], [46, 125, 50]),
        ([144, 164, 174], [236, 239, 241], [96, 125, 139]),
    ];
    let (top, bottom, ground) = palettes[variant % palettes.len()];
    let scene = (variant + variant / 6) % 5;
    let (w, h) = (640u32, 480u32);
    let sun = (
        (120 + variant * 97) as f32 % w as f32,
        90.0 + (variant % 4) as f32 * 28.0,
    );
    let sky = |y: u32| {
        let t = y as f32 / h as f32;
        let mut px = [0u8; 3];
        for c in 0..3 {
            px[c] = (top[c] as f32 * (1.0 - t) + bottom[c] as f32 * t) as u8;
        }
        px
    };
    let shade = |c: [u8; 3], k: f32| c.map(|v| (v as f32 * k).clamp(0.0, 255.0) as u8);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let d = ((xf - sun.0).powi(2) + (yf - sun.1).powi(2)).sqrt();
        let sun_px = (d < 40.0).then_some([255u8, 241, 118]);
        let px = match scene {
            // A city skyline: blocks of different heights with lit windows.
            1 => {
                let block = (x / 58) as usize;
                let roof = 170.0 + ((block * 37 + variant * 11) % 140) as f32;
                if yf > roof {
                    let lit = (x % 58) % 14 < 7
                        && (y % 24) < 12
                        && !(x / 14 + y / 24 + block as u32).is_multiple_of(3);
                    if lit {
                        [255, 224, 130]
                    } else {
                        shade(ground, 0.55 + 0.05 * (block % 4) as f32)
                    }
                } else {
                    sun_px.unwrap_or_else(|| sky(y))
                }
            }
            // A lake: the sky and the sun mirrored below the shore line, darker.
            2 => {
                let shore = 280.0 + 12.0 * ((xf / 70.0) + variant as f32).sin();
                if yf > shore + 20.0 {
                    let my = (2.0 * (shore + 20.0) - yf).max(0.0);
                    let dm = ((xf - sun.0).powi(2) + (my - sun.1).powi(2)).sqrt();
                    let ripple = if (y / 6) % 2 == 0 { 0.85 } else { 0.75 };
                    if dm < 40.0 {
                        shade([255, 241, 118], ripple)
                    } else {
                        shade(sky(my as u32), ripple)
                    }
                } else if yf > shore {
                    ground
                } else {
                    sun_px.unwrap_or_else(|| sky(y))
                }
            }
            // A row of trees (triangles on trunks) on a meadow.
            3 => {
                let cell = (x % 90) as f32 - 45.0;
                let base = 330.0 + ((x / 90) as f32 * 13.0 + variant as f32 * 7.0) % 40.0;
                let crown = yf > base - 140.0
                    && yf < base - 20.0
                    && cell.abs() < (yf - (base - 140.0)) * 0.35;
                if crown {
                    shade(ground, 0.7)
                } else if cell.abs() < 6.0 && yf >= base - 20.0 && yf < base + 10.0 {
                    [110, 76, 52]
                } else if yf > base + 10.0 - 30.0 && yf > 330.0 {
                    ground
                } else {
                    sun_px.unwrap_or_else(|| sky(y))
                }
            }
            // A running track: red lanes curving round a green field.
            4 => {
                let (cx, cy) = (320.0, 360.0);
                let r = (((xf - cx) / 2.2).powi(2) + (yf - cy).powi(2)).sqrt();
                if yf > 250.0 && r < 110.0 {
                    if r > 70.0 {
                        if (r as u32 / 8).is_multiple_of(2) {
                            [200, 70, 60]
                        } else {
                            [240, 240, 240]
                        }
                    } else {
                        ground
                    }
                } else if yf > 250.0 {
                    shade(ground, 0.8)
                } else {
                    sun_px.unwrap_or_else(|| sky(y))
                }
            }
            // Hills under the sun.
            _ => {
                let ridge = 300.0 + 40.0 * ((xf / 90.0) + variant as f32).sin();
                if yf > ridge {
                    shade(ground, 1.0 - 0.3 * ((yf - ridge) / (h as f32 - ridge)))
                } else {
                    sun_px.unwrap_or_else(|| sky(y))
                }
            }
        };
        image::Rgb(px)
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

fn seed_showcase(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    use crate::showcase::service::{self, PostForm};
    let load = |conn: &mut DbConnection, id: i32| -> AppResult<crate::auth::User> {
        crate::auth::user::load_user(conn, id, "")?.ok_or(crate::error::AppError::NotFound)
    };
    let pictures: Vec<crate::images::Processed> = (0..12)
        .filter_map(|v| crate::images::process_now("demo.png", &demo_picture(v)).ok())
        .collect();
    let (rows, _) = members::search(conn, None, &Default::default(), 80)?;
    let people: Vec<i32> = rows
        .iter()
        .filter(|r| !r.member.disabled)
        .map(|r| r.member.id)
        .collect();
    let admin_id = members::find_by_employee_no(conn, "demo-admin")?
        .map(|m| m.id)
        .ok_or(crate::error::AppError::NotFound)?;
    let admin = load(conn, admin_id)?;
    let mut rng = Lcg(7);
    let mut count = 0;
    for i in 0..40usize {
        let (category, title, story) = POSTS[i % POSTS.len()];
        let author = load(conn, people[(i * 7 + 3) % people.len()])?;
        let title = if i < POSTS.len() {
            title.to_string()
        } else {
            format!("{title}（{}）", i / POSTS.len() + 1)
        };
        let at = now - chrono::Duration::hours((i * 17 + 5) as i64);
        let n = 1 + rng.next() % 4;
        let photos: Vec<crate::images::Processed> = (0..n)
            .map(|k| pictures[(i + k) % pictures.len()].clone())
            .collect();
        let form = PostForm {
            category: category.into(),
            title,
            story: story.into(),
        };
        let id = service::submit(conn, &author, &form, &photos, at)?;
        count += 1;
        // The newest few wait for review; one was sent back.
        if i < 3 {
            continue;
        }
        let actor = Actor::user(&admin, None, at + chrono::Duration::hours(2));
        if i == 3 {
            service::decide(
                conn,
                &admin,
                &actor,
                id,
                0,
                false,
                "照片不够清晰，请换几张再投",
            )?;
            continue;
        }
        service::decide(conn, &admin, &actor, id, 0, true, "")?;
        if i % 6 == 4 {
            service::feature(conn, &admin, &actor, id, 1, true)?;
        }
        let likes = rng.next() % 25;
        for k in 0..likes {
            let who = load(conn, people[(i * 3 + k * 5) % people.len()])?;
            service::like(conn, &who, id, at + chrono::Duration::hours(3))?;
        }
        const REPLIES: [&str; 6] = [
            "太棒了，向您学习！",
            "照片拍得真好。",
            "为我们的职工点赞！",
            "这才是工匠精神。",
            "下次活动我也要参加。",
            "辛苦了，注意身体！",
        ];
        for k in 0..(rng.next() % 4) {
            let who = load(conn, people[(i * 5 + k * 11 + 1) % people.len()])?;
            crate::comments::add(
                conn,
                &who,
                crate::comments::Owner::Showcase(id),
                REPLIES[(i + k) % REPLIES.len()],
                at + chrono::Duration::hours(4 + k as i64),
            )?;
        }
    }
    Ok(count)
}

/// The hidden structure of the demo history (what a forecast should find): how much each
/// company's members like each kind of activity, in log-odds.
const APPEAL: [[f64; 5]; 4] = [
    // 文体, 讲座, 志愿, 竞赛, 亲子 — group office, company 1, company 2, design institute
    [0.3, 0.6, 0.2, -0.6, 0.1],
    [0.7, -0.5, 0.0, 0.8, 0.4],
    [0.5, -0.3, 0.4, 0.6, 0.6],
    [-0.2, 0.9, 0.3, -0.4, 0.5],
];
const HISTORY_KINDS: [&str; 5] = ["文体活动", "培训讲座", "志愿服务", "劳动竞赛", "亲子活动"];
const HISTORY_TITLES: [[&str; 3]; 5] = [
    ["职工羽毛球赛", "健步走打卡", "篮球友谊赛"],
    ["心理健康讲座", "劳动法知识讲座", "摄影技巧分享"],
    ["社区义诊志愿服务", "敬老院慰问", "植树志愿活动"],
    ["焊工技能比武", "安全知识竞赛", "BIM 建模大赛"],
    ["亲子手工课", "亲子运动会", "少儿绘画比赛"],
];

/// Time-of-week effect in log-odds for a kind at a Beijing weekday (0 = Monday) and hour.
pub fn time_effect(kind: usize, weekday: u32, hour: u32) -> f64 {
    let weekend = weekday >= 5;
    let evening = (18..=21).contains(&hour);
    let working = !weekend && (9..=17).contains(&hour);
    match kind {
        0 | 4 if weekend => 0.8,
        1 if evening => 0.5,
        3 if working => 0.3,
        _ if working => -0.7,
        _ => 0.0,
    }
}

/// Seasonal effect by month (Spring Festival dip in February, summer heat).
pub fn season_effect(month: u32) -> f64 {
    match month {
        2 => -0.9,
        7 | 8 => -0.5,
        10 => 0.2,
        _ => 0.0,
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Twelve months of past activities with sign-ups, attendance and ratings drawn from the
/// structure above, plus a few upcoming ones open for sign-up.
fn seed_activities(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<(usize, usize)> {
    use crate::activities::model as am;
    use chrono::{Datelike, Duration, Timelike};
    let mut rng = Lcg(2026);
    let units = org::model::all(conn)?;
    let (rows, _) = members::search(conn, None, &Default::default(), 100_000)?;
    // Member propensity (log-odds), fixed per member.
    let people: Vec<(i32, String, f64)> = rows
        .iter()
        .filter(|r| !r.member.disabled)
        .map(|r| {
            let path = units
                .iter()
                .find(|u| u.id == r.member.unit_id)
                .map(|u| u.path.clone())
                .unwrap_or_default();
            (r.member.id, path, 0.8 * rng.normal())
        })
        .collect();
    let company_of = |path: &str| -> usize {
        match path.split('/').nth(2).and_then(|s| s.parse::<i32>().ok()) {
            Some(2) => 1,
            Some(3) => 2,
            Some(4) => 3,
            _ => 0,
        }
    };
    let admin = members::find_by_employee_no(conn, "demo-admin")?
        .map(|m| m.id)
        .ok_or(crate::error::AppError::NotFound)?;
    let publishers: Vec<&OrgUnit> = units.iter().filter(|u| u.depth() <= 2).collect();
    let mut n_act = 0;
    let mut n_signups = 0;
    let total = 260;
    for k in 0..total + 4 {
        let upcoming = k >= total;
        let kind = rng.next() % 5;
        let publisher = publishers[rng.next() % publishers.len()];
        // Pick a day and an hour that suit the kind (with some variety).
        let days_ago = if upcoming {
            -(3 + (k - total) as i64 * 3)
        } else {
            2 + (k as i64 * 363 / total as i64)
        };
        let mut day = (crate::time::to_beijing(&now) - Duration::days(days_ago)).date();
        let want_weekend = matches!(kind, 0 | 2 | 4) && rng.unit() < 0.7;
        while (day.weekday().num_days_from_monday() >= 5) != want_weekend {
            day = day.pred_opt().unwrap_or(day);
        }
        let hour: u32 = match kind {
            1 => [19, 14, 19, 10][rng.next() % 4],
            3 => [10, 14, 9][rng.next() % 3],
            2 => [8, 9, 14][rng.next() % 3],
            _ => [9, 14, 15, 19][rng.next() % 4],
        };
        let start_local = day
            .and_hms_opt(hour, if rng.unit() < 0.5 { 0 } else { 30 }, 0)
            .unwrap_or_default();
        let starts = crate::time::from_beijing(&start_local).unwrap_or(start_local);
        let ends = starts + Duration::hours(2 + (rng.next() % 3) as i64);
        let window_days = 3 + (rng.next() % 12) as i64;
        let opens = starts - Duration::days(window_days);
        let closes = starts - Duration::hours(2);
        let audience: Vec<&(i32, String, f64)> = people
            .iter()
            .filter(|p| p.1.starts_with(&publisher.path))
            .collect();
        if audience.is_empty() {
            continue;
        }
        let title_base = HISTORY_TITLES[kind][rng.next() % 3];
        let title = format!(
            "{title_base}（{}）",
            publisher.name.trim_end_matches("工会")
        );
        let capacity = ((audience.len() as f64) * (0.15 + 0.35 * rng.unit()))
            .round()
            .max(8.0) as i32;
        let place = [
            "职工活动中心",
            "多功能厅",
            "体育馆",
            "滨江公园",
            "职工书屋",
            "培训中心",
        ][rng.next() % 6];
        let description = format!("{}，欢迎大家踊跃报名。", HISTORY_KINDS[kind]);
        let data = am::ActivityData {
            unit_id: publisher.id,
            title: &title,
            kind: HISTORY_KINDS[kind],
            description: &description,
            place,
            starts_at: starts,
            ends_at: ends,
            capacity,
            signup_opens_at: if upcoming {
                now - Duration::days(1)
            } else {
                opens
            },
            signup_closes_at: closes,
            extra_fields: "",
            published: true,
            title_tokens: &crate::search::token_string(&title),
            body_tokens: &crate::search::token_string(&format!(
                "{} {place} {description}",
                HISTORY_KINDS[kind]
            )),
            updated_at: opens,
        };
        let id = am::insert(conn, &data, admin, &crate::auth::random_token(16), opens)?;
        am::set_audience(conn, id, &[publisher.id])?;
        n_act += 1;
        let local = start_local;
        let effect = APPEAL[company_of(&publisher.path)][kind]
            + time_effect(kind, local.weekday().num_days_from_monday(), local.hour())
            + season_effect(local.month())
            + 0.2 * (window_days as f64).ln()
            - 1.7;
        // Who signs up, in the order they would have: earlier for keener members.
        let mut keen: Vec<(f64, i32, f64)> = audience
            .iter()
            .filter_map(|p| {
                let prob = sigmoid(effect + p.2 + APPEAL[company_of(&p.1)][kind] * 0.5);
                let cut = if upcoming { prob * 0.4 } else { prob };
                (rng.unit() < cut).then(|| (rng.unit() / prob, p.0, p.2))
            })
            .collect();
        keen.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        let mut confirmed = 0;
        for (i, (_, member, prop)) in keen.iter().enumerate() {
            let at = opens + Duration::minutes((i as i64 * 37) % (window_days * 24 * 60).max(1));
            let seat = confirmed < capacity;
            let (status, position) = if seat {
                (crate::activities::model::SignupStatus::Confirmed, 0)
            } else {
                (crate::activities::model::SignupStatus::Waitlisted, i as i32)
            };
            am::insert_signup(conn, id, *member, status, position, "", at)?;
            n_signups += 1;
            if seat {
                confirmed += 1;
            }
            if seat && !upcoming && rng.unit() < sigmoid(1.8 + 0.6 * prop) {
                let s =
                    am::signup_of(conn, id, *member)?.ok_or(crate::error::AppError::NotFound)?;
                let method = if rng.unit() < 0.9 { "qr" } else { "manual" };
                am::check_in(
                    conn,
                    id,
                    s.id,
                    method,
                    starts + Duration::minutes((rng.next() % 40) as i64 - 15),
                )?;
                if rng.unit() < 0.6 {
                    let r = (3.6
                        + 0.8 * APPEAL[company_of(&publisher.path)][kind]
                        + 0.6 * rng.normal())
                    .round()
                    .clamp(1.0, 5.0) as i32;
                    am::rate(conn, s.id, r, "", ends + Duration::hours(3))?;
                }
            }
        }
        am::set_confirmed(conn, id, confirmed, keen.len() as i32)?;
    }
    Ok((n_act, n_signups))
}

/// What demo-member (机关分会) and demo-member-b (项目一部分会) find under 近期活动, so the
/// whole sign-up story can be tried at once: one open with seats left, one full with two on
/// its waitlist, one starting within the hour that they signed up for (check-in is open, the
/// venue QR page works for their cadre), and one next month whose sign-up has not opened yet.
fn seed_story_activities(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    use crate::activities::model as am;
    use chrono::Duration;
    let admin = members::find_by_employee_no(conn, "demo-admin")?
        .map(|m| m.id)
        .ok_or(crate::error::AppError::NotFound)?;
    let mut n = 0;
    for (login, unit_name, titles) in [
        (
            "demo-member",
            "机关分会",
            ["羽毛球友谊赛", "职工书画展观展", "午间健步走", "端午游园会"],
        ),
        (
            "demo-member-b",
            "项目一部分会",
            ["工地篮球赛", "安全知识讲座", "班前健身操", "夏季登山活动"],
        ),
    ] {
        let member =
            members::find_by_employee_no(conn, login)?.ok_or(crate::error::AppError::NotFound)?;
        let unit = org::model::find_by_name(conn, unit_name)?
            .into_iter()
            .next()
            .ok_or(crate::error::AppError::NotFound)?;
        // Colleagues of the same unit (not demo accounts) to fill seats.
        let (rows, _) = members::search(conn, Some(&[unit.id]), &Default::default(), 500)?;
        let others: Vec<i32> = rows
            .iter()
            .filter(|r| !r.member.employee_no.starts_with("demo-") && !r.member.disabled)
            .map(|r| r.member.id)
            .collect();
        // (title, starts in, capacity, signup opens, colleagues signed up, member signed up)
        let plan = [
            (
                titles[0],
                Duration::days(5),
                20,
                Duration::days(-2),
                6,
                false,
            ),
            (
                titles[1],
                Duration::days(7),
                3,
                Duration::days(-1),
                5,
                false,
            ),
            (
                titles[2],
                Duration::minutes(20),
                30,
                Duration::days(-3),
                8,
                true,
            ),
            (
                titles[3],
                Duration::days(35),
                50,
                Duration::days(20),
                0,
                false,
            ),
        ];
        for (title, starts_in, capacity, opens_in, colleagues, member_joined) in plan {
            let starts = now + starts_in;
            let opens = now + opens_in;
            let description = format!("{title}，{}会员欢迎报名。", unit.name);
            let data = am::ActivityData {
                unit_id: unit.id,
                title,
                kind: "文体活动",
                description: &description,
                place: "职工活动中心",
                starts_at: starts,
                ends_at: starts + Duration::hours(2),
                capacity,
                signup_opens_at: opens,
                signup_closes_at: starts,
                extra_fields: "",
                published: true,
                title_tokens: &crate::search::token_string(title),
                body_tokens: &crate::search::token_string(&description),
                updated_at: now,
            };
            let id = am::insert(conn, &data, admin, &crate::auth::random_token(16), now)?;
            am::set_audience(conn, id, &[unit.id])?;
            let mut people: Vec<i32> = others.iter().copied().take(colleagues).collect();
            if member_joined {
                people.insert(0, member.id);
            }
            let mut confirmed = 0;
            for (i, m) in people.iter().enumerate() {
                let seat = confirmed < capacity;
                let (status, position) = if seat {
                    (crate::activities::model::SignupStatus::Confirmed, 0)
                } else {
                    (crate::activities::model::SignupStatus::Waitlisted, i as i32)
                };
                am::insert_signup(conn, id, *m, status, position, "", now - Duration::hours(1))?;
                if seat {
                    confirmed += 1;
                }
            }
            am::set_confirmed(conn, id, confirmed, people.len() as i32)?;
            n += 1;
        }
    }
    Ok(n)
}

/// The rest of each demo member's own story: a benefit request waiting for the chair, one
/// returned for more material, a showcase post waiting for review, and an open poll.
pub use crate::auth::user::by_employee_no as account;

fn seed_story_cases(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<()> {
    use crate::benefits::service::{self as benefits, ApplyForm, Decision};
    use chrono::Duration;
    let user = account;
    let items = crate::benefits::model::items(conn)?;
    let item = |name: &str| {
        items
            .iter()
            .find(|i| i.name == name)
            .cloned()
            .ok_or(crate::error::AppError::NotFound)
    };
    let picture = crate::images::process_now("demo.png", &demo_picture(9))
        .map_err(crate::error::AppError::Internal)?;
    for (k, (login, cadre_login, post)) in [
        ("demo-member", "demo-cadre", "机关篮球队夺得系统联赛亚军"),
        (
            "demo-member-b",
            "demo-cadre-b",
            "项目部劳动竞赛中的青年突击队",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let member = user(conn, login)?;
        let cadre = user(conn, cadre_login)?;
        for (n, (name, returned)) in [("生育慰问", false), ("金秋助学", true)]
            .into_iter()
            .enumerate()
        {
            let it = item(name)?;
            let filed = now - Duration::days(2 + n as i64);
            let form = ApplyForm {
                amount: if it.is_fixed() {
                    String::new()
                } else {
                    crate::benefits::model::yuan(it.amount_fen.min(100_000)).to_string()
                },
                event: String::new(),
                values: it.fields().iter().map(|f| format!("{f}（演示）")).collect(),
                submit_token: format!("demo-story-{k}-{n}-0000000000"),
            };
            let files: Vec<benefits::File> = it
                .attachments()
                .iter()
                .map(|a| {
                    (
                        format!("{a}.pdf"),
                        "application/pdf",
                        b"%PDF-1.4 demo".to_vec(),
                    )
                })
                .collect();
            let id = match benefits::apply(conn, &member, it.id, &form, &files, filed) {
                Ok(id) => id,
                Err(crate::error::AppError::Fields(_)) => continue,
                Err(e) => return Err(e),
            };
            let decision = if returned {
                Decision::Return {
                    note: "请补充学校录取通知书的清晰扫描件。".into(),
                }
            } else {
                Decision::Approve
            };
            let at = filed + Duration::hours(3);
            benefits::decide(
                conn,
                &cadre,
                &crate::audit::Actor::user(&cadre, None, at),
                id,
                1,
                decision,
            )?;
        }
        let form = crate::showcase::service::PostForm {
            category: "活动剪影".into(),
            title: post.into(),
            story: "大家利用业余时间坚持训练，赛场上相互鼓励、顽强拼搏。".into(),
        };
        crate::showcase::service::submit(
            conn,
            &member,
            &form,
            std::slice::from_ref(&picture),
            now - Duration::hours(5),
        )?;
    }
    // An open poll for both branches (the chair's company).
    let chair = user(conn, "demo-chair")?;
    let company = chair.roles.first().map_or(chair.unit_id, |r| r.unit_id);
    let opens = now - Duration::days(1);
    let form = crate::surveys::service::SurveyForm {
        title: "工会活动时间安排投票".into(),
        description: "下半年的文体活动安排在什么时间，大家投票决定。".into(),
        anonymous: String::new(),
        results_visibility: "after_answer".into(),
        opens_at: crate::activities::service::to_local(&opens),
        closes_at: crate::activities::service::to_local(&(now + Duration::days(12))),
        source: "[多选 最多2] 您希望活动安排在 *\n工作日午间\n工作日下班后\n周六\n周日".into(),
    };
    let actor = crate::audit::Actor::user(&chair, None, opens);
    match crate::surveys::service::create(conn, &chair, &actor, &form, &[company]) {
        Ok(_) | Err(crate::error::AppError::Fields(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Three closed surveys with answers (one anonymous) and one open that demo-member has not
/// answered.
fn seed_surveys(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    use crate::surveys::service::{self, SurveyForm};
    use chrono::Duration;
    let load = |conn: &mut DbConnection, no: &str| -> AppResult<crate::auth::User> {
        let id = members::find_by_employee_no(conn, no)?
            .map(|m| m.id)
            .ok_or(crate::error::AppError::NotFound)?;
        crate::auth::user::load_user(conn, id, "")?.ok_or(crate::error::AppError::NotFound)
    };
    let chair = load(conn, "demo-chair")?;
    let company = org::model::find(
        conn,
        chair.roles.first().map_or(chair.unit_id, |r| r.unit_id),
    )?
    .ok_or(crate::error::AppError::NotFound)?;
    let specs: [(&str, bool, &str, i64, &str); 4] = [
        ("职工食堂满意度调查", false, "after_answer", 60, "[单选] 您对食堂的总体满意度 *\n非常满意\n满意\n一般\n不满意\n\n[多选 最多2] 最希望改进的方面\n菜品口味\n价格\n卫生\n排队时间\n\n[评分] 给食堂打分 *\n\n[文本] 其他建议"),
        ("年度工会工作民主评议（匿名）", true, "after_close", 30, "[评分] 工会维权工作 *\n\n[评分] 普惠服务 *\n\n[单选] 您是否了解工会的申诉渠道 *\n了解\n听说过\n不了解\n\n[文本] 对工会的意见"),
        ("春季运动会项目投票", false, "after_answer", 90, "[多选 最多3] 您想参加的项目 *\n拔河\n跳绳\n羽毛球\n乒乓球\n趣味接力\n\n[单选] 比赛时间 *\n周六上午\n周六下午\n工作日下午"),
        ("职工书屋新书征集", false, "after_answer", -1, "[多选 最多3] 希望增加的图书类别 *\n文学\n历史\n科技\n管理\n育儿\n健康\n\n[文本] 推荐书目"),
    ];
    let (rows, _) = members::search(conn, None, &Default::default(), 100_000)?;
    let mut rng = Lcg(99);
    let mut n = 0;
    for (title, anonymous, vis, days_ago, source) in specs {
        let opens = now - Duration::days(days_ago.max(0) + 14);
        let closes = if days_ago < 0 {
            now + Duration::days(10)
        } else {
            now - Duration::days(days_ago)
        };
        let actor = Actor::user(&chair, None, opens);
        let form = SurveyForm {
            title: title.into(),
            description: "请大家根据实际情况填写。".into(),
            anonymous: if anonymous { "1".into() } else { String::new() },
            results_visibility: vis.into(),
            opens_at: crate::activities::service::to_local(&opens),
            closes_at: crate::activities::service::to_local(&closes),
            source: source.into(),
        };
        let id = match service::create(conn, &chair, &actor, &form, &[company.id]) {
            Ok(id) => id,
            Err(crate::error::AppError::Fields(_)) => continue,
            Err(e) => return Err(e),
        };
        n += 1;
        if days_ago < 0 {
            continue;
        }
        let questions = crate::surveys::model::questions(conn, id)?;
        for r in rows
            .iter()
            .filter(|r| !r.member.disabled && r.member.employee_no != "demo-member")
        {
            let Some(unit) = org::model::find(conn, r.member.unit_id)? else {
                continue;
            };
            if !unit.path.starts_with(&company.path) || rng.unit() > 0.55 {
                continue;
            }
            let user = match crate::auth::user::load_user(conn, r.member.id, "")? {
                Some(u) => u,
                None => continue,
            };
            let mut posted = service::Posted::new();
            for q in &questions {
                let opts = q.option_list().len().max(1);
                let v: Vec<String> = match q.kind.as_str() {
                    "single" => vec![((rng.next() % opts).min(rng.next() % opts)).to_string()],
                    "multi" => {
                        let k = 1 + rng.next() % (q.max_choices.max(1) as usize);
                        let mut picks: Vec<String> = Vec::new();
                        for _ in 0..k {
                            let c = (rng.next() % opts).to_string();
                            if !picks.contains(&c) {
                                picks.push(c);
                            }
                        }
                        picks
                    }
                    "rating" => vec![(3 + rng.next() % 3).min(5).to_string()],
                    _ if rng.unit() < 0.3 => {
                        vec![
                            ["希望多组织活动", "服务很周到", "建议延长开放时间", "很满意"]
                                [rng.next() % 4]
                                .to_string(),
                        ]
                    }
                    _ => Vec::new(),
                };
                posted.insert(q.id, v);
            }
            let at = opens + Duration::hours((rng.next() % 200) as i64);
            let _ = service::submit(conn, &user, id, &posted, at);
        }
    }
    Ok(n)
}

/// Six months of engagement events: daily visits drawn from each member's propensity with a
/// weekday × hour rhythm (commute, lunch, evening; later on weekends), plus the sign-ups and
/// check-ins of the activity history.
fn seed_engagement(conn: &mut DbConnection, secret: &[u8], now: NaiveDateTime) -> AppResult<usize> {
    use crate::engagement::{hour_of, member_key, Event};
    use chrono::{Datelike, Duration};
    let mut rng = Lcg(4242);
    let (rows, _) = members::search(conn, None, &Default::default(), 100_000)?;
    let news_ids: Vec<i32> = {
        let anc: Vec<i32> = org::model::all(conn)?.iter().map(|u| u.id).collect();
        crate::news::model::visible(conn, &anc, now, None, None, 50, 0)?
            .0
            .iter()
            .map(|a| a.id)
            .collect()
    };
    let weekday_hours = [8u32, 12, 12, 13, 18, 20, 20, 21, 22];
    let weekend_hours = [9u32, 10, 11, 15, 20, 21, 21, 22];
    let mut out: Vec<Event> = Vec::new();
    for r in rows.iter().filter(|r| !r.member.disabled) {
        let key = member_key(secret, r.member.id);
        let prop = rng.normal() * 0.9;
        let phone_share = 0.5 + 0.4 * rng.unit();
        // Units differ as in real unions: a few very active, some nearly silent.
        let unit_effect = [1.2, 0.5, 0.0, -0.7, -1.8, -3.2]
            [(r.member.unit_id.unsigned_abs() as usize).wrapping_mul(7919) % 6];
        // One member in four stopped coming some weeks or months ago.
        let stopped = if rng.unit() < 0.25 {
            10 + (rng.next() % 150) as i64
        } else {
            0
        };
        for d in 1..=180i64 {
            if d < stopped {
                continue;
            }
            let day = (crate::time::to_beijing(&now) - Duration::days(d)).date();
            let weekend = day.weekday().num_days_from_monday() >= 5;
            let season = season_effect(day.month());
            let p =
                sigmoid(prop - 2.6 + unit_effect + if weekend { -0.4 } else { 0.0 } + season * 0.5);
            if rng.unit() >= p {
                continue;
            }
            let visits = 1 + rng.next() % 3;
            for _ in 0..visits {
                let h = if weekend {
                    weekend_hours[rng.next() % weekend_hours.len()]
                } else {
                    weekday_hours[rng.next() % weekday_hours.len()]
                };
                let at = crate::time::day_start(day) + Duration::hours(i64::from(h));
                let device = if rng.unit() < phone_share {
                    "phone"
                } else {
                    "desktop"
                };
                let (ot, id, action) = match rng.next() % 10 {
                    0..=3 => ("home", None, "view"),
                    4..=6 if !news_ids.is_empty() => (
                        "news",
                        Some(news_ids[rng.next() % news_ids.len()]),
                        if rng.unit() < 0.6 { "click" } else { "view" },
                    ),
                    7 => ("activity", None, "view"),
                    8 => ("showcase", None, "view"),
                    _ if rng.unit() < 0.5 => ("survey", None, "view"),
                    _ => ("search", None, "view"),
                };
                out.push(Event {
                    member_key: key.clone(),
                    unit_id: r.member.unit_id,
                    object_type: ot,
                    object_id: id,
                    action,
                    hour: hour_of(at),
                    device,
                });
            }
        }
    }
    // Sign-ups and check-ins of the last six months, at the hour they happened.
    let since = now - Duration::days(180);
    let past = crate::activities::model::past(conn, now + Duration::days(60))?;
    let ids: Vec<i32> = past.iter().filter(|p| p.3 >= since).map(|p| p.0).collect();
    let units: std::collections::HashMap<i32, i32> = rows
        .iter()
        .map(|r| (r.member.id, r.member.unit_id))
        .collect();
    for chunk in ids.chunks(200) {
        for a in chunk {
            for row in crate::activities::model::attendees(conn, *a)? {
                let s = row.signup;
                let unit = units.get(&s.member_id).copied().unwrap_or(0);
                let key = member_key(secret, s.member_id);
                out.push(Event {
                    member_key: key.clone(),
                    unit_id: unit,
                    object_type: "activity",
                    object_id: Some(*a),
                    action: "signup",
                    hour: hour_of(s.created_at),
                    device: "phone",
                });
                if let Some(t) = s.checked_in_at {
                    out.push(Event {
                        member_key: key,
                        unit_id: unit,
                        object_type: "activity",
                        object_id: Some(*a),
                        action: "checkin",
                        hour: hour_of(t),
                        device: "phone",
                    });
                }
            }
        }
    }
    out.retain(|e| e.hour <= now);
    crate::engagement::model::insert_many(conn, &out)?;
    Ok(out.len())
}
