//! The demo's congress: last year's session with proposals in every state and rated answers,
//! and the current session open for proposals (a draft collecting co-signers, one submitted,
//! one being handled). Every step goes through the real service.

// Fixed demo data: small indices into short lists, and a table of tuples.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

use chrono::{Duration, NaiveDateTime};

use super::{model, Grade, Rating, Step};
use crate::audit::Actor;
use crate::auth::User;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

use crate::auth::user::by_employee_no as user;

struct Demo {
    delegates: Vec<User>,
    chair: User,
    handlers: Vec<(i32, User)>,
}

impl Demo {
    fn step(
        &self,
        conn: &mut DbConnection,
        who: &User,
        id: i32,
        step: &Step,
        at: NaiveDateTime,
    ) -> AppResult<()> {
        let v = model::find(conn, id)?
            .map(|p| p.version)
            .ok_or(AppError::NotFound)?;
        super::act(conn, who, &Actor::user(who, None, at), id, v, step)?;
        Ok(())
    }

    /// A proposal by delegate `a`, co-signed by the next two, submitted at `at`.
    fn submitted(
        &self,
        conn: &mut DbConnection,
        session: i32,
        a: usize,
        title: &str,
        reason: &str,
        measures: &str,
        category: &str,
        at: NaiveDateTime,
    ) -> AppResult<i32> {
        let n = self.delegates.len();
        let author = self.delegates.get(a % n).ok_or(AppError::NotFound)?;
        let form = super::DraftForm {
            session: session.to_string(),
            title: title.into(),
            reason: reason.into(),
            measures: measures.into(),
            category: category.into(),
        };
        let id = super::draft(conn, author, &Actor::user(author, None, at), &form)?;
        for k in 1..=2 {
            let c = self.delegates.get((a + k) % n).ok_or(AppError::NotFound)?;
            let v = model::find(conn, id)?
                .map(|p| p.version)
                .ok_or(AppError::NotFound)?;
            super::cosign(conn, c, &Actor::user(c, None, at), id, v)?;
        }
        self.step(conn, author, id, &Step::Submit, at)?;
        Ok(id)
    }
}

pub fn seed(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    let days = |d: i64| crate::time::minus(now, Duration::days(d));
    let mut delegates = Vec::new();
    for no in [
        "demo-member",
        "demo-member-b",
        "demo-cadre",
        "demo-cadre-b",
        "ZJ10031",
        "ZJ10032",
        "ZJ10033",
        "ZJ10034",
    ] {
        delegates.push(user(conn, no)?);
    }
    let chair = user(conn, "demo-chair")?;
    model::add_to_committee(conn, chair.id)?;
    let mut handlers = Vec::new();
    for (dept, no) in [
        ("人力资源部", "ZJ10021"),
        ("后勤保障部", "ZJ10022"),
        ("安全环保部", "ZJ10023"),
        ("工程管理部", "ZJ10024"),
    ] {
        let d = model::insert_department(conn, dept, days(500))?;
        let h = user(conn, no)?;
        model::add_handler(conn, d, h.id)?;
        handlers.push((d, h));
    }
    let past = model::insert_session(
        conn,
        "第五届第二次职工代表大会",
        days(400),
        days(380),
        2,
        days(410),
    )?;
    let current = model::insert_session(
        conn,
        "第五届第三次职工代表大会",
        days(10),
        crate::time::plus(now, Duration::days(20)),
        2,
        days(15),
    )?;
    for s in [past, current] {
        for d in &delegates {
            model::add_delegate(conn, s, d.id, "第一工程公司代表团")?;
        }
    }
    let demo = Demo {
        delegates,
        chair,
        handlers,
    };
    let chair = &demo.chair;
    let h = |i: usize| {
        demo.handlers
            .get(i)
            .map(|x| (x.0, x.1.clone()))
            .ok_or(AppError::NotFound)
    };
    let t0 = days(395);
    let mut n = 0;
    // Last year's session: closed with each rating, converted, merged, rejected, answered.
    let items: [(&str, &str, &str, &str, usize, Grade, Option<Rating>); 5] = [
        (
            "关于食堂增设夜班餐的提案",
            "夜班职工下班后食堂已关门，只能吃泡面。",
            "食堂增设夜班餐，晚上十点到十二点供应热食。",
            "生活后勤",
            1,
            Grade::A,
            Some(Rating::Satisfied),
        ),
        (
            "关于提高高温津贴标准的提案",
            "现行高温津贴多年未调整，低于周边同行业水平。",
            "参照省里最新标准调整高温津贴，并按月随工资发放。",
            "工资福利",
            0,
            Grade::B,
            Some(Rating::Basic),
        ),
        (
            "关于项目部宿舍加装空调的提案",
            "部分项目部临建宿舍夏季室温超过三十五度。",
            "分批为项目部宿舍加装空调，优先高温地区项目。",
            "生活后勤",
            1,
            Grade::C,
            Some(Rating::Unsatisfied),
        ),
        (
            "关于完善劳保用品发放的提案",
            "劳保鞋、手套更换周期过长，磨损后不能及时更换。",
            "按岗位磨损情况缩短更换周期，建立以旧换新制度。",
            "劳动保护",
            2,
            Grade::A,
            None,
        ),
        (
            "关于开展青年职工技能培训的提案",
            "青年职工技能提升渠道少，取证培训费用需自理。",
            "每年组织两期技能培训，取证费用由公司承担。",
            "职工培训",
            0,
            Grade::B,
            Some(Rating::Satisfied),
        ),
    ];
    for (i, (title, reason, measures, category, dept, grade, rating)) in items.iter().enumerate() {
        let id = demo.submitted(conn, past, i, title, reason, measures, category, t0)?;
        let (d, handler) = h(*dept)?;
        demo.step(
            conn,
            chair,
            id,
            &Step::Accept {
                note: String::new(),
            },
            days(390),
        )?;
        demo.step(
            conn,
            chair,
            id,
            &Step::Assign {
                lead: d,
                co: Vec::new(),
            },
            days(389),
        )?;
        demo.step(
            conn,
            &handler,
            id,
            &Step::Answer {
                grade: *grade,
                text: format!("{measures}（办理情况：已研究落实。）"),
            },
            days(360),
        )?;
        if let Some(r) = rating {
            let author = demo
                .delegates
                .get(i % demo.delegates.len())
                .ok_or(AppError::NotFound)?
                .clone();
            if *r == Rating::Unsatisfied {
                demo.step(conn, &author, id, &Step::Rate { rating: *r }, days(355))?;
                demo.step(
                    conn,
                    &handler,
                    id,
                    &Step::Answer {
                        grade: *grade,
                        text:
                            "受场地和用电条件限制，今年先为三个高温地区项目加装，其余列入明年计划。"
                                .into(),
                    },
                    days(340),
                )?;
            }
            demo.step(conn, &author, id, &Step::Rate { rating: *r }, days(335))?;
        }
        n += 1;
    }
    let first = demo.submitted(
        conn,
        past,
        5,
        "关于增开职工通勤班车的提案",
        "新园区距市区远，公交班次少，职工通勤时间长。",
        "增开早晚高峰通勤班车，线路覆盖主要居住区。",
        "生活后勤",
        t0,
    )?;
    let twin = demo.submitted(
        conn,
        past,
        6,
        "建议开通园区班车",
        "园区交通不便，职工上下班困难。",
        "开通往返市区的班车，早晚各两班。",
        "生活后勤",
        t0,
    )?;
    demo.step(
        conn,
        chair,
        twin,
        &Step::Merge {
            into: first,
            note: "内容相同，并案办理".into(),
        },
        days(390),
    )?;
    demo.step(
        conn,
        chair,
        first,
        &Step::Convert {
            note: "属于日常管理事项，转后勤保障部作为意见建议办理".into(),
        },
        days(390),
    )?;
    let other = demo.submitted(
        conn,
        past,
        7,
        "关于取消考勤打卡的提案",
        "考勤打卡排队占用上下班时间，影响休息。",
        "取消考勤打卡，改为由班组长每日自主申报。",
        "民主管理",
        t0,
    )?;
    demo.step(
        conn,
        chair,
        other,
        &Step::Reject {
            note: "考勤制度属公司规章，不属于提案范围，已转相关部门研究".into(),
        },
        days(390),
    )?;
    n += 3;

    // This year's session: one collecting co-signers, one submitted, one being handled.
    let a = demo.delegates.first().ok_or(AppError::NotFound)?.clone();
    let form = super::DraftForm {
        session: current.to_string(),
        title: "关于设立职工心理健康服务站的提案".into(),
        reason: "项目一线职工长期异地工作，心理压力大，缺少疏导渠道。".into(),
        measures: "在各子公司设立心理健康服务站，每季度组织心理咨询进项目。".into(),
        category: "劳动保护".into(),
    };
    let draft = super::draft(conn, &a, &Actor::user(&a, None, days(5)), &form)?;
    let b = demo.delegates.get(1).ok_or(AppError::NotFound)?.clone();
    let v = model::find(conn, draft)?
        .map(|p| p.version)
        .ok_or(AppError::NotFound)?;
    super::cosign(conn, &b, &Actor::user(&b, None, days(4)), draft, v)?;
    demo.submitted(
        conn,
        current,
        2,
        "关于完善项目部夏季防暑措施的提案",
        "夏季高温作业时间长，防暑药品和饮品发放不及时。",
        "高温季节调整作业时间，防暑物资按班组定额发放。",
        "劳动保护",
        days(6),
    )?;
    let handled = demo.submitted(
        conn,
        current,
        3,
        "关于建立职工带薪休假轮休制度的提案",
        "项目职工休假难以落实，年休假经常作废。",
        "建立项目职工轮休制度，未休年假按规定补偿。",
        "工资福利",
        days(8),
    )?;
    let (d, _) = h(0)?;
    demo.step(
        conn,
        chair,
        handled,
        &Step::Accept {
            note: String::new(),
        },
        days(3),
    )?;
    demo.step(
        conn,
        chair,
        handled,
        &Step::Assign {
            lead: d,
            co: vec![h(3)?.0],
        },
        days(2),
    )?;
    Ok(n + 3)
}
