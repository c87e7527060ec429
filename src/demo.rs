//! `zhijia demo`: a realistic union to explore — a group union, three subsidiary unions, eleven
//! branches and some teams, ~300 members with Chinese names, cadres and chairs at every level,
//! and the fixed demo accounts (password `zhijia-demo`).

use chrono::NaiveDateTime;

use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::password::hash_blocking;
use crate::db::{write_tx, DbConnection};
use crate::error::AppResult;
use crate::members::model::{self as members, NewMember};
use crate::org::{self, OrgUnit, Role};

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
        let g = write_tx(&mut conn, |conn| seed_grievances(conn, now))?;
        println!(
            "已创建 {n} 名会员、{g} 件维权申诉（{:.1} 秒）。",
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
        members::insert_role(conn, m, u, r.as_str(), now)
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
    members::set_grid_cadre(conn, demo_member, Some(cadre), now)?;

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
        let (id, _receipt) = match service::submit(conn, &filer, &form, &[], filed)? {
            Submitted::Named(id) => (id, None),
            Submitted::Anonymous(r) => {
                let id = crate::grievances::model::find_by_receipt(
                    conn,
                    &crate::auth::digest(&[
                        b"zhijia-receipt",
                        service::normalize_receipt(&r).as_bytes(),
                    ]),
                )?
                .map(|g| g.id)
                .ok_or(crate::error::AppError::NotFound)?;
                (id, Some(r))
            }
            Submitted::Duplicate { id, .. } => (id, None),
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
            let g = crate::grievances::model::find(conn, id)?
                .ok_or(crate::error::AppError::NotFound)?;
            let actor = crate::audit::Actor::user(cadre, None, t);
            match *step {
                "rate" if target == 5 => {
                    service::cadre_act(conn, cadre, &actor, id, g.version, CadreAction::Close)?;
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
                "accept" => {
                    service::cadre_act(conn, cadre, &actor, id, g.version, CadreAction::Accept)?
                }
                "reply" => service::cadre_act(
                    conn,
                    cadre,
                    &actor,
                    id,
                    g.version,
                    CadreAction::Reply {
                        text: "已联系相关部门了解情况，请耐心等待。".into(),
                    },
                )?,
                "answer" => service::cadre_act(
                    conn,
                    cadre,
                    &actor,
                    id,
                    g.version,
                    CadreAction::Answer {
                        resolution: "经与单位协调，问题已解决，相关款项和安排已落实。".into(),
                    },
                )?,
                _ => service::cadre_act(
                    conn,
                    cadre,
                    &actor,
                    id,
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
