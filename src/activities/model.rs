//! Activity rows and queries. Seats: `confirmed_count` is changed only by conditional UPDATEs
//! on the activity row, which also serialise every sign-up and cancellation of one activity.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{activities, activity_audiences, activity_signups, members, org_units};
use crate::db::DbConnection;
use crate::error::AppResult;

pub const KINDS: [&str; 6] = [
    "文体活动",
    "培训讲座",
    "志愿服务",
    "劳动竞赛",
    "亲子活动",
    "其他",
];

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = activities)]
pub struct Activity {
    pub id: i32,
    pub unit_id: i32,
    pub author_id: i32,
    pub title: String,
    pub kind: String,
    pub description: String,
    pub place: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub capacity: i32,
    pub signup_opens_at: NaiveDateTime,
    pub signup_closes_at: NaiveDateTime,
    pub extra_fields: String,
    pub confirmed_count: i32,
    pub checkin_secret: String,
    pub published: bool,
    pub created_at: NaiveDateTime,
}

impl Activity {
    pub fn seats_left(&self) -> i32 {
        self.capacity.saturating_sub(self.confirmed_count).max(0)
    }
    pub fn when(&self) -> String {
        let start = crate::time::beijing(&self.starts_at, "%Y-%m-%d %H:%M");
        let same_day = crate::time::beijing(&self.starts_at, "%Y-%m-%d")
            == crate::time::beijing(&self.ends_at, "%Y-%m-%d");
        let end = if same_day {
            crate::time::beijing(&self.ends_at, "%H:%M")
        } else {
            crate::time::beijing(&self.ends_at, "%Y-%m-%d %H:%M")
        };
        format!("{start} – {end}")
    }
    pub fn weekday(&self) -> &'static str {
        use chrono::Datelike;
        crate::workflow::calendar::weekday_label(
            crate::time::beijing_date(&self.starts_at).weekday(),
        )
    }
    pub fn signup_window(&self) -> String {
        format!(
            "{} 至 {}",
            crate::time::beijing(&self.signup_opens_at, "%m-%d %H:%M"),
            crate::time::beijing(&self.signup_closes_at, "%m-%d %H:%M")
        )
    }
    pub fn signup_open(&self, now: &NaiveDateTime) -> bool {
        self.published && self.signup_opens_at <= *now && *now < self.signup_closes_at
    }
    pub fn ended(&self, now: &NaiveDateTime) -> bool {
        self.ends_at <= *now
    }
    /// The extra sign-up questions, one per line.
    pub fn fields(&self) -> Vec<String> {
        self.extra_fields
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = activities)]
pub struct ActivityData<'a> {
    pub unit_id: i32,
    pub title: &'a str,
    pub kind: &'a str,
    pub description: &'a str,
    pub place: &'a str,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub capacity: i32,
    pub signup_opens_at: NaiveDateTime,
    pub signup_closes_at: NaiveDateTime,
    pub extra_fields: &'a str,
    pub published: bool,
    pub title_tokens: &'a str,
    pub body_tokens: &'a str,
    pub updated_at: NaiveDateTime,
}

pub fn insert(
    conn: &mut DbConnection,
    d: &ActivityData<'_>,
    author: i32,
    secret: &str,
    now: NaiveDateTime,
) -> AppResult<i32> {
    Ok(diesel::insert_into(activities::table)
        .values((
            d,
            activities::author_id.eq(author),
            activities::checkin_secret.eq(secret),
            activities::created_at.eq(now),
        ))
        .returning(activities::id)
        .get_result(conn)?)
}

pub fn update(conn: &mut DbConnection, id: i32, d: &ActivityData<'_>) -> AppResult<()> {
    diesel::update(activities::table.find(id))
        .set(d)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: i32) -> AppResult<Option<Activity>> {
    Ok(activities::table
        .find(id)
        .select(Activity::as_select())
        .first(conn)
        .optional()?)
}

pub fn set_audience(conn: &mut DbConnection, id: i32, units: &[i32]) -> AppResult<()> {
    diesel::delete(activity_audiences::table.filter(activity_audiences::activity_id.eq(id)))
        .execute(conn)?;
    for u in units {
        diesel::insert_into(activity_audiences::table)
            .values((
                activity_audiences::activity_id.eq(id),
                activity_audiences::unit_id.eq(u),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn audience(conn: &mut DbConnection, id: i32) -> AppResult<Vec<i32>> {
    Ok(activity_audiences::table
        .filter(activity_audiences::activity_id.eq(id))
        .select(activity_audiences::unit_id)
        .load(conn)?)
}

/// Published activities for a reader (audience on their unit path). `upcoming`: not ended yet,
/// soonest first; otherwise ended, latest first. `ids` restricts (search).
pub fn visible(
    conn: &mut DbConnection,
    ancestors: &[i32],
    now: NaiveDateTime,
    upcoming: bool,
    ids: Option<&[i32]>,
    limit: i64,
) -> AppResult<Vec<Activity>> {
    let mut q = activities::table
        .filter(activities::published.eq(true))
        .filter(
            activities::id.eq_any(
                activity_audiences::table
                    .filter(activity_audiences::unit_id.eq_any(ancestors.to_vec()))
                    .select(activity_audiences::activity_id),
            ),
        )
        .into_boxed();
    if let Some(ids) = ids {
        q = q.filter(activities::id.eq_any(ids.to_vec()));
    }
    q = if upcoming {
        q.filter(activities::ends_at.gt(now))
            .order((activities::starts_at.asc(), activities::id.asc()))
    } else {
        q.filter(activities::ends_at.le(now))
            .order((activities::starts_at.desc(), activities::id.desc()))
    };
    Ok(q.limit(limit).select(Activity::as_select()).load(conn)?)
}

/// Activities a member can sign up for now (window open, in their audience, not signed up
/// yet), soonest first: the home page's "等您参与". One statement shape for every member.
pub fn joinable(
    conn: &mut DbConnection,
    slots: [i32; crate::org::scope::PATH_SLOTS],
    member_id: i32,
    now: NaiveDateTime,
    limit: i64,
) -> AppResult<Vec<Activity>> {
    Ok(crate::on_backend!(conn, c => activities::table
        .filter(activities::published.eq(true))
        .filter(activities::signup_opens_at.le(now))
        .filter(activities::signup_closes_at.gt(now))
        .filter(activities::ends_at.gt(now))
        .filter(
            activities::id.eq_any(
                activity_audiences::table
                    .filter(crate::on_path!(activity_audiences::unit_id, slots))
                    .select(activity_audiences::activity_id),
            ),
        )
        .filter(diesel::dsl::not(
            activities::id.eq_any(
                activity_signups::table
                    .filter(activity_signups::member_id.eq(member_id))
                    .filter(activity_signups::status.ne(SignupStatus::Cancelled))
                    .select(activity_signups::activity_id),
            ),
        ))
        .order((activities::starts_at.asc(), activities::id.asc()))
        .limit(limit)
        .select(Activity::as_select())
        .load(c))?)
}

/// Activities published by units in `unit_ids` (None: all), newest start first.
pub fn for_units(
    conn: &mut DbConnection,
    unit_ids: Option<&[i32]>,
    limit: i64,
) -> AppResult<Vec<Activity>> {
    let mut q = activities::table.into_boxed();
    if let Some(ids) = unit_ids {
        q = q.filter(activities::unit_id.eq_any(ids.to_vec()));
    }
    Ok(q.order(activities::starts_at.desc())
        .limit(limit)
        .select(Activity::as_select())
        .load(conn)?)
}

crate::text_enum! {
    /// A member's place on an activity. Stored as its code in `activity_signups.status`.
    pub enum SignupStatus {
        Confirmed = ("confirmed", "已报名"),
        Waitlisted = ("waitlisted", "候补中"),
        Cancelled = ("cancelled", "已取消"),
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = activity_signups)]
pub struct Signup {
    pub id: i32,
    pub activity_id: i32,
    pub member_id: i32,
    pub status: SignupStatus,
    pub position: i32,
    pub answers: String,
    pub checked_in_at: Option<NaiveDateTime>,
    pub checkin_method: Option<String>,
    pub rating: Option<i32>,
    pub rating_comment: String,
    pub created_at: NaiveDateTime,
}

impl Signup {
    pub fn status_label(&self) -> &'static str {
        self.status.label()
    }
    pub fn is_confirmed(&self) -> bool {
        self.status == SignupStatus::Confirmed
    }
    pub fn is_waitlisted(&self) -> bool {
        self.status == SignupStatus::Waitlisted
    }
    pub fn checked_in(&self) -> bool {
        self.checked_in_at.is_some()
    }
    pub fn checkin_time(&self) -> String {
        self.checked_in_at
            .map(|t| crate::time::beijing(&t, "%m-%d %H:%M"))
            .unwrap_or_default()
    }
}

pub fn signup_of(
    conn: &mut DbConnection,
    activity_id: i32,
    member_id: i32,
) -> AppResult<Option<Signup>> {
    Ok(activity_signups::table
        .filter(activity_signups::activity_id.eq(activity_id))
        .filter(activity_signups::member_id.eq(member_id))
        .select(Signup::as_select())
        .first(conn)
        .optional()?)
}

/// Take a seat if one is left: one conditional UPDATE, so capacity holds under any concurrency
/// (the row lock makes concurrent ones wait and re-check). Returns whether a seat was taken.
#[allow(clippy::arithmetic_side_effects)] // `column + 1` builds SQL; no Rust arithmetic happens
pub fn take_seat(conn: &mut DbConnection, id: i32) -> AppResult<bool> {
    Ok(diesel::update(
        activities::table
            .filter(activities::id.eq(id))
            .filter(activities::confirmed_count.lt(activities::capacity)),
    )
    .set(activities::confirmed_count.eq(activities::confirmed_count + 1))
    .execute(conn)?
        == 1)
}

/// Give a seat back (a confirmed member cancelled). Locks the activity row for the rest of
/// the transaction, so promotions from the waitlist happen one at a time.
#[allow(clippy::arithmetic_side_effects)] // `column - 1` builds SQL; no Rust arithmetic happens
pub fn free_seat(conn: &mut DbConnection, id: i32) -> AppResult<()> {
    diesel::update(activities::table.find(id))
        .set(activities::confirmed_count.eq(activities::confirmed_count - 1))
        .execute(conn)?;
    Ok(())
}

/// The next waitlist position (also locks the activity row).
#[allow(clippy::arithmetic_side_effects)] // `column + 1` builds SQL; no Rust arithmetic happens
pub fn next_position(conn: &mut DbConnection, id: i32) -> AppResult<i32> {
    Ok(diesel::update(activities::table.find(id))
        .set(activities::waitlist_seq.eq(activities::waitlist_seq + 1))
        .returning(activities::waitlist_seq)
        .get_result(conn)?)
}

pub fn first_waiting(conn: &mut DbConnection, activity_id: i32) -> AppResult<Option<Signup>> {
    Ok(activity_signups::table
        .filter(activity_signups::activity_id.eq(activity_id))
        .filter(activity_signups::status.eq(SignupStatus::Waitlisted))
        .order((activity_signups::position.asc(), activity_signups::id.asc()))
        .select(Signup::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert_signup(
    conn: &mut DbConnection,
    activity_id: i32,
    member_id: i32,
    status: SignupStatus,
    position: i32,
    answers: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(activity_signups::table)
        .values((
            activity_signups::activity_id.eq(activity_id),
            activity_signups::member_id.eq(member_id),
            activity_signups::status.eq(status),
            activity_signups::position.eq(position),
            activity_signups::answers.eq(answers),
            activity_signups::rating_comment.eq(""),
            activity_signups::created_at.eq(now),
            activity_signups::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Change a sign-up's status if it is still `from` (0 rows: someone else changed it).
pub fn set_status(
    conn: &mut DbConnection,
    signup_id: i32,
    from: SignupStatus,
    to: SignupStatus,
    position: i32,
    answers: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<usize> {
    let q = activity_signups::table
        .filter(activity_signups::id.eq(signup_id))
        .filter(activity_signups::status.eq(from));
    Ok(match answers {
        Some(a) => diesel::update(q)
            .set((
                activity_signups::status.eq(to),
                activity_signups::position.eq(position),
                activity_signups::answers.eq(a),
                activity_signups::updated_at.eq(now),
            ))
            .execute(conn)?,
        None => diesel::update(q)
            .set((
                activity_signups::status.eq(to),
                activity_signups::position.eq(position),
                activity_signups::updated_at.eq(now),
            ))
            .execute(conn)?,
    })
}

/// Record a check-in once (0 rows if already checked in or not confirmed).
/// Check in a confirmed sign-up of this activity (the sign-up must belong to `activity_id`).
pub fn check_in(
    conn: &mut DbConnection,
    activity_id: i32,
    signup_id: i32,
    method: &str,
    now: NaiveDateTime,
) -> AppResult<usize> {
    Ok(diesel::update(
        activity_signups::table
            .filter(activity_signups::id.eq(signup_id))
            .filter(activity_signups::activity_id.eq(activity_id))
            .filter(activity_signups::status.eq(SignupStatus::Confirmed))
            .filter(activity_signups::checked_in_at.is_null()),
    )
    .set((
        activity_signups::checked_in_at.eq(now),
        activity_signups::checkin_method.eq(method),
        activity_signups::updated_at.eq(now),
    ))
    .execute(conn)?)
}

pub fn rate(
    conn: &mut DbConnection,
    signup_id: i32,
    rating: i32,
    comment: &str,
    now: NaiveDateTime,
) -> AppResult<usize> {
    Ok(diesel::update(
        activity_signups::table
            .filter(activity_signups::id.eq(signup_id))
            .filter(activity_signups::checked_in_at.is_not_null())
            .filter(activity_signups::rating.is_null()),
    )
    .set((
        activity_signups::rating.eq(rating),
        activity_signups::rating_comment.eq(comment),
        activity_signups::updated_at.eq(now),
    ))
    .execute(conn)?)
}

/// A sign-up with the member's name, employee number and unit name (attendance list).
#[derive(Debug, Clone)]
pub struct Attendee {
    pub signup: Signup,
    pub name: String,
    pub employee_no: String,
    pub unit: String,
}

pub fn attendees(conn: &mut DbConnection, activity_id: i32) -> AppResult<Vec<Attendee>> {
    let rows: Vec<(Signup, String, String, String)> = activity_signups::table
        .inner_join(members::table.inner_join(org_units::table))
        .filter(activity_signups::activity_id.eq(activity_id))
        .order((
            activity_signups::status.asc(),
            activity_signups::position.asc(),
            activity_signups::id.asc(),
        ))
        .select((
            Signup::as_select(),
            members::name,
            members::employee_no,
            org_units::name,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(signup, name, employee_no, unit)| Attendee {
            signup,
            name,
            employee_no,
            unit,
        })
        .collect())
}

/// My sign-ups (not cancelled) with their activities, soonest first.
pub fn mine(conn: &mut DbConnection, member_id: i32) -> AppResult<Vec<(Signup, Activity)>> {
    Ok(activity_signups::table
        .inner_join(activities::table)
        .filter(activity_signups::member_id.eq(member_id))
        .filter(activity_signups::status.ne(SignupStatus::Cancelled))
        .order(activities::starts_at.desc())
        .limit(100)
        .select((Signup::as_select(), Activity::as_select()))
        .load(conn)?)
}

/// Average rating and number of ratings.
pub fn rating_summary(conn: &mut DbConnection, activity_id: i32) -> AppResult<(f64, i64)> {
    let ratings: Vec<Option<i32>> = activity_signups::table
        .filter(activity_signups::activity_id.eq(activity_id))
        .filter(activity_signups::rating.is_not_null())
        .select(activity_signups::rating)
        .load(conn)?;
    let n = ratings.len() as i64;
    let sum: i64 = ratings.into_iter().flatten().map(i64::from).sum();
    Ok((if n > 0 { sum as f64 / n as f64 } else { 0.0 }, n))
}

/// Set the seat and waitlist counters directly (the demo history writes sign-ups in bulk).
pub fn set_confirmed(conn: &mut DbConnection, id: i32, confirmed: i32, seq: i32) -> AppResult<()> {
    diesel::update(activities::table.find(id))
        .set((
            activities::confirmed_count.eq(confirmed),
            activities::waitlist_seq.eq(seq),
        ))
        .execute(conn)?;
    Ok(())
}

/// Ended, published activities oldest first: (id, kind, publishing unit, start, sign-up opens,
/// sign-up closes, capacity).
pub type PastActivity = (
    i32,
    String,
    i32,
    NaiveDateTime,
    NaiveDateTime,
    NaiveDateTime,
    i32,
);

pub fn past(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<Vec<PastActivity>> {
    Ok(activities::table
        .filter(activities::published.eq(true))
        .filter(activities::ends_at.le(now))
        .order((activities::starts_at.asc(), activities::id.asc()))
        .select((
            activities::id,
            activities::kind,
            activities::unit_id,
            activities::starts_at,
            activities::signup_opens_at,
            activities::signup_closes_at,
            activities::capacity,
        ))
        .load(conn)?)
}

/// (activity id, audience unit id) for the given activities.
pub fn audiences_of(conn: &mut DbConnection, ids: &[i32]) -> AppResult<Vec<(i32, i32)>> {
    Ok(activity_audiences::table
        .filter(activity_audiences::activity_id.eq_any(ids.to_vec()))
        .select((activity_audiences::activity_id, activity_audiences::unit_id))
        .load(conn)?)
}

/// (activity id, member id, checked in) of every sign-up of the given activities.
pub fn signups_of(conn: &mut DbConnection, ids: &[i32]) -> AppResult<Vec<(i32, i32, bool)>> {
    let rows: Vec<(i32, i32, Option<NaiveDateTime>)> = activity_signups::table
        .filter(activity_signups::activity_id.eq_any(ids.to_vec()))
        .select((
            activity_signups::activity_id,
            activity_signups::member_id,
            activity_signups::checked_in_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(a, m, c)| (a, m, c.is_some()))
        .collect())
}

/// (member id, unit id) of every active member.
pub fn active_members(conn: &mut DbConnection) -> AppResult<Vec<(i32, i32)>> {
    Ok(members::table
        .filter(members::disabled.eq(false))
        .select((members::id, members::unit_id))
        .load(conn)?)
}

/// (id, title) of the given activities.
pub fn titles(conn: &mut DbConnection, ids: &[i32]) -> AppResult<Vec<(i32, String)>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            activities::table
                .filter(activities::id.eq_any(chunk.to_vec()))
                .select((activities::id, activities::title))
                .load::<(i32, String)>(conn)?,
        );
    }
    Ok(out)
}
