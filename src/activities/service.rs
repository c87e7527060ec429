//! Activity rules: audiences, the sign-up window, exact capacity with a waitlist that is
//! promoted at once on cancellation, rotating QR check-in tokens, ratings after the event.

use super::model::SignupStatus;
use chrono::NaiveDateTime;

use super::model::{self, Activity, ActivityData, Attendee, KINDS};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::org::scope;
use crate::outbox::{Kind, Out};

/// The check-in QR code changes every 30 s; a token older than 60 s is refused.
pub const TOKEN_STEP_SECS: i64 = 30;
pub const TOKEN_MAX_AGE_SECS: i64 = 60;

/// A published activity in the reader's audience, else 404.
pub fn readable(conn: &mut DbConnection, user: &User, id: i32) -> AppResult<Activity> {
    let a = model::find(conn, id)?
        .filter(|a| a.published)
        .ok_or(AppError::NotFound)?;
    let anc = crate::org::scope::ancestors(user);
    if !model::audience(conn, id)?.iter().any(|u| anc.contains(u)) {
        return Err(AppError::NotFound);
    }
    Ok(a)
}

/// An activity the cadre manages (its publishing unit is in their scope), else 404.
pub fn load_for_staff(conn: &mut DbConnection, user: &User, id: i32) -> AppResult<Activity> {
    let a = model::find(conn, id)?.ok_or(AppError::NotFound)?;
    scope::require_manages(conn, user, a.unit_id)?;
    Ok(a)
}

/// What the activity editor posts (times are Beijing time, datetime-local).
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ActivityForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub place: String,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    #[serde(default)]
    pub capacity: String,
    #[serde(default)]
    pub signup_opens_at: String,
    #[serde(default)]
    pub signup_closes_at: String,
    #[serde(default)]
    pub extra_fields: String,
    #[serde(default)]
    pub draft: String,
}

pub fn to_local(t: &NaiveDateTime) -> String {
    crate::time::format_input(t)
}

/// Check the form; the parsed times and capacity when valid.
#[allow(clippy::type_complexity)]
pub fn check_form(
    form: &ActivityForm,
    now: NaiveDateTime,
    e: &mut FieldErrors,
) -> Option<(
    NaiveDateTime,
    NaiveDateTime,
    NaiveDateTime,
    NaiveDateTime,
    i32,
)> {
    let t = form.title.trim().chars().count();
    if t == 0 || t > 60 {
        e.add("title", "请填写活动名称（60 字以内）");
    }
    if !KINDS.contains(&form.kind.as_str()) {
        e.add("kind", "请选择活动类型");
    }
    if form.place.trim().is_empty() || form.place.chars().count() > 100 {
        e.add("place", "请填写活动地点");
    }
    if form.description.chars().count() > 10_000 {
        e.add("description", "活动介绍请控制在 1 万字以内");
    }
    let capacity = form
        .capacity
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|c| (1..=100_000).contains(c));
    if capacity.is_none() {
        e.add("capacity", "名额请填写 1 到 100000 之间的整数");
    }
    let starts = e.time("starts_at", &form.starts_at, "请填写开始时间");
    let ends = e.time("ends_at", &form.ends_at, "请填写结束时间");
    let opens = if form.signup_opens_at.trim().is_empty() {
        Some(now)
    } else {
        e.time(
            "signup_opens_at",
            &form.signup_opens_at,
            "报名时间格式不正确",
        )
    };
    let closes = if form.signup_closes_at.trim().is_empty() {
        starts
    } else {
        e.time(
            "signup_closes_at",
            &form.signup_closes_at,
            "报名时间格式不正确",
        )
    };
    if form
        .extra_fields
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
        > 5
    {
        e.add("extra_fields", "附加报名项最多 5 个");
    }
    let (starts, ends, opens, closes, capacity) = (starts?, ends?, opens?, closes?, capacity?);
    if ends <= starts {
        e.add("ends_at", "结束时间要晚于开始时间");
    }
    if closes <= opens {
        e.add("signup_closes_at", "报名截止要晚于报名开始");
    }
    if closes > ends {
        e.add("signup_closes_at", "报名截止不能晚于活动结束");
    }
    e.is_empty()
        .then_some((starts, ends, opens, closes, capacity))
}

/// Write an activity: update `existing`, or insert a new one with its own check-in secret;
/// audited either way. Returns its id.
fn store(
    conn: &mut DbConnection,
    actor: &Actor,
    author: i32,
    existing: Option<i32>,
    data: &ActivityData<'_>,
) -> AppResult<i32> {
    let (id, code) = match existing {
        Some(id) => {
            model::update(conn, id, data)?;
            (id, crate::audit::AuditAction::ActivityUpdate)
        }
        None => {
            let secret = crate::auth::random_token(16);
            let id = model::insert(conn, data, author, &secret, actor.now)?;
            (id, crate::audit::AuditAction::ActivityCreate)
        }
    };
    audit::record(
        conn,
        actor,
        Some(data.unit_id),
        code,
        ("activity", Some(id)),
        data.title,
    )?;
    Ok(id)
}

/// Create (`id` None) or edit an activity for audiences in the cadre's scope.
pub fn save(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: Option<i32>,
    form: &ActivityForm,
    audience: &[i32],
) -> AppResult<i32> {
    let now = actor.now;
    write_tx(conn, |conn| {
        let mut e = FieldErrors::default();
        let parsed = check_form(form, now, &mut e);
        let units = scope::audience_units(conn, user, audience, &mut e, "请选择参加范围")?;
        let existing = match id {
            Some(id) => Some(load_for_staff(conn, user, id)?),
            None => None,
        };
        if let (Some(a), Some(p)) = (&existing, &parsed) {
            if p.4 < a.confirmed_count {
                e.add(
                    "capacity",
                    format!("已有 {} 人报名，名额不能少于这个数", a.confirmed_count),
                );
            }
        }
        let Some((starts, ends, opens, closes, capacity)) = parsed.filter(|_| e.is_empty()) else {
            return Err(AppError::Fields(e));
        };
        let publisher = scope::lowest_common_ancestor(&units).unwrap_or(user.unit_id);
        let title = form.title.trim();
        let description = form.description.trim();
        let data = ActivityData {
            unit_id: existing.as_ref().map_or(publisher, |a| a.unit_id),
            title,
            kind: &form.kind,
            description,
            place: form.place.trim(),
            starts_at: starts,
            ends_at: ends,
            capacity,
            signup_opens_at: opens,
            signup_closes_at: closes,
            extra_fields: form.extra_fields.trim(),
            published: form.draft != "1",
            title_tokens: &crate::search::token_string(title),
            body_tokens: &crate::search::token_string(&format!(
                "{} {} {description}",
                form.kind,
                form.place.trim()
            )),
            updated_at: now,
        };
        let id = store(conn, actor, user.id, existing.as_ref().map(|a| a.id), &data)?;
        model::set_audience(conn, id, audience)?;
        Ok(id)
    })
}

/// How a sign-up ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedUp {
    Confirmed,
    /// On the waitlist at this place (1 = next).
    Waitlisted(i64),
    /// Already signed up or waiting; nothing changed.
    Already,
}

/// Sign up within the window: a seat if one is left, else the waitlist.
pub fn sign_up(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    answers: &[(String, String)],
    now: NaiveDateTime,
) -> AppResult<SignedUp> {
    let a = readable(conn, user, id)?;
    if !a.signup_open(&now) {
        return Err(AppError::Validation("不在报名时间内".into()));
    }
    let fields = a.fields();
    let mut text = String::new();
    for f in &fields {
        let v = answers
            .iter()
            .find(|(k, _)| k == f)
            .map(|(_, v)| v.trim())
            .unwrap_or("");
        if v.is_empty() {
            return Err(AppError::Validation(format!("请填写“{f}”")));
        }
        let v: String = v.chars().filter(|c| !c.is_control()).take(100).collect();
        text.push_str(&format!("{f}：{v}\n"));
    }
    let result = write_tx(conn, |conn| {
        let existing = model::signup_of(conn, id, user.id)?;
        if existing
            .as_ref()
            .is_some_and(|s| s.status != SignupStatus::Cancelled)
        {
            return Ok(SignedUp::Already);
        }
        let (status, position) = if model::take_seat(conn, id)? {
            (SignupStatus::Confirmed, 0)
        } else {
            (SignupStatus::Waitlisted, model::next_position(conn, id)?)
        };
        match existing {
            Some(s) => {
                // Another tab re-used this cancelled row first: give the seat back.
                let changed = model::set_status(
                    conn,
                    s.id,
                    SignupStatus::Cancelled,
                    status,
                    position,
                    Some(&text),
                    now,
                )?;
                if changed != 1 {
                    if status == SignupStatus::Confirmed {
                        model::free_seat(conn, id)?;
                    }
                    return Ok(SignedUp::Already);
                }
            }
            None => model::insert_signup(conn, id, user.id, status, position, &text, now)?,
        }
        Ok(if status == SignupStatus::Confirmed {
            SignedUp::Confirmed
        } else {
            SignedUp::Waitlisted(waiting_place(conn, id, position)?)
        })
    });
    match result {
        // A first sign-up racing another from the same member (PostgreSQL): the unique
        // (activity, member) row refused it and the transaction, seat included, rolled back.
        Err(AppError::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))) => Ok(SignedUp::Already),
        other => other,
    }
}

fn waiting_place(conn: &mut DbConnection, id: i32, position: i32) -> AppResult<i64> {
    use crate::db::schema::activity_signups as s;
    use diesel::prelude::*;
    Ok(s::table
        .filter(s::activity_id.eq(id))
        .filter(s::status.eq(SignupStatus::Waitlisted))
        .filter(s::position.le(position))
        .count()
        .get_result(conn)?)
}

/// My place on the waitlist (1 = next), for the activity page.
pub fn my_place(conn: &mut DbConnection, id: i32, position: i32) -> AppResult<i64> {
    waiting_place(conn, id, position)
}

/// Cancel within the window. A freed seat goes to the first on the waitlist at once (they are
/// notified). Returns the promoted member's id, if any.
pub fn cancel(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    now: NaiveDateTime,
) -> AppResult<Option<i32>> {
    let a = readable(conn, user, id)?;
    if !a.signup_open(&now) {
        return Err(AppError::Validation(
            "报名已截止，不能在线取消；如有变化请联系组织活动的工会干部".into(),
        ));
    }
    write_tx(conn, |conn| {
        let Some(s) =
            model::signup_of(conn, id, user.id)?.filter(|s| s.status != SignupStatus::Cancelled)
        else {
            return Err(AppError::Validation("您没有报名这个活动".into()));
        };
        if s.checked_in_at.is_some() {
            return Err(AppError::Validation("您已签到，不能再取消报名".into()));
        }
        if s.status == SignupStatus::Waitlisted {
            model::set_status(
                conn,
                s.id,
                SignupStatus::Waitlisted,
                SignupStatus::Cancelled,
                0,
                None,
                now,
            )?;
            return Ok(None);
        }
        // Lock the activity row first: cancellations of one activity promote one at a time.
        model::free_seat(conn, id)?;
        if model::set_status(
            conn,
            s.id,
            SignupStatus::Confirmed,
            SignupStatus::Cancelled,
            0,
            None,
            now,
        )? != 1
        {
            return Err(AppError::Conflict(crate::workflow::CONFLICT.into()));
        }
        let Some(next) = model::first_waiting(conn, id)? else {
            return Ok(None);
        };
        if !model::take_seat(conn, id)? {
            return Ok(None);
        }
        if model::set_status(
            conn,
            next.id,
            SignupStatus::Waitlisted,
            SignupStatus::Confirmed,
            0,
            None,
            now,
        )? != 1
        {
            // The first in line left meanwhile: the seat stays free for the next sign-up.
            model::free_seat(conn, id)?;
            return Ok(None);
        }
        crate::notifications::notify(
            conn,
            next.member_id,
            &format!("候补成功：您已获得“{}”的名额", a.title),
            &format!("/activities/{id}"),
            now,
            Out::Full(Kind::Waitlist),
        )?;
        Ok(Some(next.member_id))
    })
}

/// The token shown in the venue QR code for time window `window` (now / 30 s).
pub fn checkin_token(key: &[u8], a: &Activity, window: i64) -> String {
    let mac = crate::auth::digest(&[
        key,
        b"checkin",
        a.id.to_string().as_bytes(),
        a.checkin_secret.as_bytes(),
        window.to_string().as_bytes(),
    ]);
    format!("{window}.{}", mac.get(..16).unwrap_or(&mac))
}

pub fn window_of(now: NaiveDateTime) -> i64 {
    now.and_utc().timestamp().div_euclid(TOKEN_STEP_SECS)
}

/// A token is good if we made it and its window started at most 60 s ago.
pub fn token_valid(key: &[u8], a: &Activity, token: &str, now: NaiveDateTime) -> bool {
    let Some((w, _)) = token.split_once('.') else {
        return false;
    };
    let Ok(w) = w.parse::<i64>() else {
        return false;
    };
    // `w` comes from the request: an absurd window is refused, never overflowed.
    let Some(age) = w
        .checked_mul(TOKEN_STEP_SECS)
        .and_then(|start| now.and_utc().timestamp().checked_sub(start))
    else {
        return false;
    };
    (0..=TOKEN_MAX_AGE_SECS).contains(&age)
        && crate::auth::constant_time_eq(&checkin_token(key, a, w), token)
}

/// Check in through the venue QR code.
pub fn check_in_qr(
    conn: &mut DbConnection,
    user: &User,
    key: &[u8],
    id: i32,
    token: &str,
    now: NaiveDateTime,
) -> AppResult<&'static str> {
    let a = readable(conn, user, id)?;
    if !token_valid(key, &a, token, now) {
        return Err(AppError::Validation(
            "二维码已过期，请重新扫描现场大屏上的二维码".into(),
        ));
    }
    if now < crate::time::minus(a.starts_at, chrono::Duration::hours(2)) || now > a.ends_at {
        return Err(AppError::Validation("不在活动签到时间内".into()));
    }
    write_tx(conn, |conn| {
        let Some(s) =
            model::signup_of(conn, id, user.id)?.filter(|s| s.status == SignupStatus::Confirmed)
        else {
            return Err(AppError::Validation(
                "您没有报名这个活动（或仍在候补），不能签到".into(),
            ));
        };
        if s.checked_in_at.is_some() {
            return Ok("您已经签到过了");
        }
        model::check_in(conn, id, s.id, "qr", now)?;
        Ok("签到成功，欢迎参加！")
    })
}

/// A cadre checks a member in by scanning their member card (the card's code was verified by
/// the caller): the member must have a confirmed sign-up, within the check-in hours; audited.
pub fn check_in_card(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    member_id: i32,
) -> AppResult<&'static str> {
    write_tx(conn, |conn| {
        let a = load_for_staff(conn, user, id)?;
        let now = actor.now;
        if now < crate::time::minus(a.starts_at, chrono::Duration::hours(2)) || now > a.ends_at {
            return Err(AppError::Validation("不在活动签到时间内".into()));
        }
        let Some(s) =
            model::signup_of(conn, id, member_id)?.filter(|s| s.status == SignupStatus::Confirmed)
        else {
            return Err(AppError::Validation(
                "该会员没有报名这个活动（或仍在候补）".into(),
            ));
        };
        if s.checked_in_at.is_some() {
            return Ok("该会员已经签到过了");
        }
        model::check_in(conn, id, s.id, "card", now)?;
        audit::record(
            conn,
            actor,
            Some(a.unit_id),
            crate::audit::AuditAction::ActivityCheckin,
            ("activity", Some(id)),
            &format!("会员证 {}", s.id),
        )?;
        Ok("签到成功")
    })
}

/// A cadre checks a confirmed member in by hand; audited.
pub fn check_in_by_hand(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    signup_id: i32,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let a = load_for_staff(conn, user, id)?;
        if model::check_in(conn, id, signup_id, "manual", actor.now)? != 1 {
            return Err(AppError::Conflict(
                "该报名不是“已报名”状态，或已经签到".into(),
            ));
        }
        audit::record(
            conn,
            actor,
            Some(a.unit_id),
            crate::audit::AuditAction::ActivityCheckin,
            ("activity", Some(id)),
            &signup_id.to_string(),
        )
    })
}

/// Rate an attended activity after it ended (once).
pub fn rate(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    rating: i32,
    comment: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let a = readable(conn, user, id)?;
    if !a.ended(&now) {
        return Err(AppError::Validation("活动结束后才能评价".into()));
    }
    if !(1..=5).contains(&rating) {
        return Err(AppError::Validation("请选择 1 到 5 星".into()));
    }
    let comment: String = comment.trim().chars().take(300).collect();
    write_tx(conn, |conn| {
        let Some(s) = model::signup_of(conn, id, user.id)?.filter(|s| s.checked_in_at.is_some())
        else {
            return Err(AppError::Validation("只有签到参加的会员才能评价".into()));
        };
        if model::rate(conn, s.id, rating, &comment, now)? != 1 {
            return Err(AppError::Validation("您已经评价过了".into()));
        }
        Ok(())
    })
}

/// The attendance list as XLSX: everyone who signed up, with status, check-in and answers.
pub fn attendance_xlsx(a: &Activity, rows: &[Attendee], now: NaiveDateTime) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let bold = Format::new().set_bold();
    ws.write_string_with_format(0, 0, format!("签到表：{}（{}）", a.title, a.when()), &bold)
        .map_err(err)?;
    let heads = [
        "姓名",
        "工号",
        "单位",
        "报名状态",
        "签到",
        "签到时间",
        "签到方式",
        "评分",
        "报名信息",
    ];
    for (c, h) in heads.iter().enumerate() {
        ws.write_string_with_format(1, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = (i as u32).saturating_add(2);
        let s = &r.signup;
        let attended = if s.checked_in() {
            "已签到"
        } else if s.status == SignupStatus::Confirmed && a.ended(&now) {
            "未到"
        } else {
            ""
        };
        let method = match s.checkin_method.as_deref() {
            Some("qr") => "扫码",
            Some("manual") => "手工",
            _ => "",
        };
        ws.write_string(row, 0, &r.name).map_err(err)?;
        ws.write_string(row, 1, &r.employee_no).map_err(err)?;
        ws.write_string(row, 2, &r.unit).map_err(err)?;
        ws.write_string(row, 3, s.status_label()).map_err(err)?;
        ws.write_string(row, 4, attended).map_err(err)?;
        ws.write_string(row, 5, s.checkin_time()).map_err(err)?;
        ws.write_string(row, 6, method).map_err(err)?;
        if let Some(v) = s.rating {
            ws.write_number(row, 7, f64::from(v)).map_err(err)?;
        }
        ws.write_string(row, 8, s.answers.trim().replace('\n', "；"))
            .map_err(err)?;
    }
    ws.set_column_width(2, 24).map_err(err)?;
    ws.set_column_width(8, 40).map_err(err)?;
    wb.save_to_buffer().map_err(err)
}
