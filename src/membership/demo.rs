//! The demo's membership: applications in every state (through the real steps), a transfer
//! under way, a retired member and one who left, and twelve months of dues with a few members
//! behind. Cards need nothing: every account has one.

use chrono::NaiveDateTime;

use super::join::{self, Action, JoinInput};
use crate::audit::Actor;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

use crate::auth::user::by_employee_no as user;

/// Seed it; `hash` is the demo password's hash (for the approved applicant's account).
pub fn seed(
    conn: &mut DbConnection,
    hash: &str,
    secret: &[u8],
    now: NaiveDateTime,
) -> AppResult<usize> {
    let cadre = user(conn, "demo-cadre")?;
    let chair = user(conn, "demo-chair")?;
    let at = |minutes: i64| crate::time::minus(now, chrono::Duration::minutes(minutes));
    let applicants = [
        (
            "钱多多",
            "ZJ20001",
            "13600000001",
            "本人自愿加入中国工会，遵守工会章程，按时交纳会费。",
        ),
        (
            "孙悦",
            "ZJ20002",
            "13600000002",
            "入职一年，希望加入工会，参加工会组织的活动。",
        ),
        (
            "周明",
            "ZJ20003",
            "13600000003",
            "自愿入会，愿意为班组的同事服务。",
        ),
        (
            "吴桐",
            "ZJ20004",
            "13600000004",
            "申请加入工会，遵守工会章程。",
        ),
        (
            "郑一帆",
            "ZJ20005",
            "13600000005",
            "本人是劳务派遣人员，自愿加入工会。",
        ),
    ];
    let mut ids = Vec::new();
    for (i, (name, no, phone, statement)) in applicants.iter().enumerate() {
        let input = JoinInput {
            name: (*name).into(),
            employee_no: (*no).into(),
            phone: (*phone).into(),
            unit_id: cadre.unit_id,
            statement: (*statement).into(),
        };
        let (id, _) = join::apply(
            conn,
            &input,
            &format!("demo-{i}"),
            secret,
            at(3000_i64.saturating_sub(400_i64.saturating_mul(i as i64))),
        )?;
        ids.push(id);
    }
    let step = |conn: &mut DbConnection,
                who: &crate::auth::User,
                id: i32,
                action: Action,
                reason: &str,
                minutes: i64| {
        let version = super::model::find_application(conn, id)?
            .map(|a| a.version)
            .ok_or(AppError::NotFound)?;
        let actor = Actor::user(who, None, at(minutes));
        join::decide(conn, who, &actor, id, version, action, reason, hash)
    };
    // [0] waits for the branch; [1] reviewed, waits for the chair; [2] approved; [3] returned;
    // [4] rejected.
    let (&a1, &a2, &a3, &a4) = match ids.as_slice() {
        [_, b, c, d, e] => (b, c, d, e),
        _ => return Err(AppError::Internal("demo applications".into())),
    };
    step(conn, &cadre, a1, Action::Review, "", 1500)?;
    step(conn, &cadre, a2, Action::Review, "材料齐全", 1400)?;
    step(conn, &chair, a2, Action::Approve, "", 1300)?;
    step(
        conn,
        &cadre,
        a3,
        Action::Return,
        "请补充所在班组和岗位",
        1200,
    )?;
    step(
        conn,
        &cadre,
        a4,
        Action::Reject,
        "经核实已是其他单位工会会员，请办理转会",
        1100,
    )?;

    // A transfer under way, a retirement and a departure: three members of branch A of their
    // own (the numbered members ZJ10001… are the load scripts' and tests' and stay members).
    let to = user(conn, "demo-cadre-b")?.unit_id;
    let mut ordinary = Vec::new();
    for (no, name, years) in [
        ("ZJ09001", "韩立新", 6),
        ("ZJ09002", "秦淑芬", 31),
        ("ZJ09003", "许文博", 2),
    ] {
        let created =
            crate::time::minus(now, chrono::Duration::days(365_i64.saturating_mul(years)));
        ordinary.push(crate::members::model::insert(
            conn,
            &crate::members::model::NewMember {
                employee_no: no,
                phone: None,
                name,
                unit_id: cadre.unit_id,
                password_hash: Some(hash),
                must_change_password: false,
                is_admin: false,
                disabled: false,
                created_at: created,
                updated_at: created,
            },
        )?);
    }
    if let [mover, retiree, leaver, ..] = ordinary.as_slice() {
        let actor = Actor::user(&cadre, None, at(900));
        super::transfer::start(conn, &cadre, &actor, *mover, to, "岗位调动至项目一部")?;
        let actor = Actor::user(&chair, None, at(800));
        super::leave::retire_or_leave(
            conn,
            &chair,
            &actor,
            *retiree,
            true,
            "退休，本人选择保留会籍",
        )?;
        super::leave::retire_or_leave(conn, &chair, &actor, *leaver, false, "离职")?;
    }

    // Twelve months of dues (0.5 % of a notional wage) for everyone who is a member; one member
    // in fifteen has paid nothing for the last four months.
    // Everyone counts as behind a month far in the future: every member and retiree.
    let (_, rows) = super::model::arrears(conn, None, "9999-12", (i64::MAX, 0))?;
    let mut dues = Vec::new();
    for (i, m) in rows.iter().enumerate() {
        let fen = 1500_i64.saturating_add((m.member_id.rem_euclid(20) as i64).saturating_mul(100));
        let behind = i % 15 == 7;
        for n in 1..=12u32 {
            if behind && n <= 4 {
                continue;
            }
            dues.push((m.member_id, super::dues::months_back(now, n), fen));
        }
    }
    super::model::insert_dues_batch(conn, &dues, now)?;
    Ok(ids.len())
}
