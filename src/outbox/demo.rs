//! The demo's outbox (no network): four demo accounts consented and bound WeCom, WeChat or
//! e-mail, and the messages the demo's own steps queued for them have a history: delivered,
//! held for quiet hours, and one the provider refused.

use chrono::{Duration, NaiveDateTime};

use super::kind::{Channel, State};
use super::model;
use crate::db::DbConnection;
use crate::error::AppResult;

const BOUND: &[(&str, &[(Channel, &str)])] = &[
    (
        "demo-member",
        &[
            (Channel::Wecom, "WangXiaoMing"),
            (Channel::Wechat, "oDemo-7f3a9c2e"),
        ],
    ),
    (
        "demo-member-b",
        &[(Channel::Email, "lixiaohong@example.com")],
    ),
    ("demo-cadre", &[(Channel::Wecom, "ZhangJianGuo")]),
    ("demo-chair", &[(Channel::Wecom, "ChenZhiQiang")]),
];

/// First, before the demo's cases: four accounts agree and bind, so the demo's own steps queue
/// their messages. Returns their ids.
pub fn agree(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<Vec<i32>> {
    let mut ids = Vec::new();
    for (login, bindings) in BOUND {
        let Some(user) = crate::members::model::find_by_employee_no(conn, login)? else {
            continue;
        };
        model::set_consent(
            conn,
            user.id,
            true,
            crate::time::minus(now, Duration::days(20)),
        )?;
        for (ch, address) in *bindings {
            model::bind(
                conn,
                user.id,
                *ch,
                address,
                crate::time::minus(now, Duration::days(20)),
            )?;
        }
        ids.push(user.id);
    }
    Ok(ids)
}

/// Last: the newest messages of those accounts get a history (held, refused, sent); the older
/// ones count as long planned (the demo's past is not sent again when channels are set up).
pub fn seed(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    let mut ids = Vec::new();
    let mut first = std::collections::HashMap::new();
    for (login, bindings) in BOUND {
        if let (Some(user), Some((ch, _))) = (
            crate::members::model::find_by_employee_no(conn, login)?,
            bindings.first(),
        ) {
            first.insert(user.id, *ch);
            ids.push(user.id);
        }
    }
    // The next 07:04 Beijing (23:04 UTC).
    let seven = {
        let today = now.date().and_hms_opt(23, 4, 0).unwrap_or(now);
        if today > now {
            today
        } else {
            crate::time::plus(today, Duration::days(1))
        }
    };
    let mut n = 0usize;
    for id in &ids {
        let ch = first.get(id).copied().unwrap_or(Channel::Wecom);
        // Each account's newest message waits for the morning, the one before was refused by
        // WeCom (for the WeCom users), the rest went out.
        for (i, (msg, member, _)) in model::recent_messages(conn, &[*id], 5)?.iter().enumerate() {
            // Within the last days (the demo's cases are older; finished deliveries are
            // purged after 90 days).
            let hours = i64::try_from(i)
                .unwrap_or(0)
                .saturating_mul(7)
                .saturating_add(3);
            let at = crate::time::minus(now, Duration::hours(hours));
            match i {
                0 => model::record_delivery(conn, *msg, *member, ch, State::Held, seven, None)?,
                1 if ch == Channel::Wecom => model::record_delivery(
                    conn,
                    *msg,
                    *member,
                    ch,
                    State::Failed,
                    at,
                    Some("错误码 81013：user & party & tag all invalid（成员不在应用可见范围）"),
                )?,
                _ => model::record_delivery(conn, *msg, *member, ch, State::Sent, at, None)?,
            }
            n = n.saturating_add(1);
        }
    }
    model::mark_planned(conn, &ids, now)?;
    Ok(n)
}
