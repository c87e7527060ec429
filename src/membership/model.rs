//! Membership rows and their queries: the status history, applications, transfers.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Status;
use crate::db::schema::{
    member_transfer_events, member_transfers, members, membership_application_events,
    membership_applications, membership_events,
};
use crate::db::DbConnection;
use crate::error::AppResult;

/// One row of a member's status history.
#[derive(Queryable, Debug, Clone)]
pub struct StatusEvent {
    pub status: String,
    pub unit_name: String,
    pub note: String,
    pub at: NaiveDateTime,
}

impl StatusEvent {
    pub fn day(&self) -> String {
        crate::time::beijing(&self.at, "%Y-%m-%d")
    }
    pub fn label(&self) -> &str {
        match Status::parse(&self.status) {
            Some(s) => s.label(),
            None => self.status.as_str(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn insert_event(
    conn: &mut DbConnection,
    member_id: i32,
    status: Status,
    unit_id: i32,
    actor_id: Option<i32>,
    note: &str,
    at: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(membership_events::table)
        .values((
            membership_events::member_id.eq(member_id),
            membership_events::status.eq(status.as_str()),
            membership_events::unit_id.eq(unit_id),
            membership_events::actor_id.eq(actor_id),
            membership_events::note.eq(note),
            membership_events::at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_member_status(
    conn: &mut DbConnection,
    member_id: i32,
    status: Status,
    now: NaiveDateTime,
) -> AppResult<()> {
    diesel::update(members::table.find(member_id))
        .set((
            members::status.eq(status.as_str()),
            members::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Change the status only if it is still one of `from` (one guarded UPDATE): false when
/// another step changed it first.
pub fn swap_status(
    conn: &mut DbConnection,
    member_id: i32,
    from: &[Status],
    to: Status,
    now: NaiveDateTime,
) -> AppResult<bool> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let n = diesel::update(
        members::table
            .filter(members::id.eq(member_id))
            .filter(members::status.eq_any(from)),
    )
    .set((members::status.eq(to.as_str()), members::updated_at.eq(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// The member's history in the order it happened (by row, not by the stamped time).
pub fn history(conn: &mut DbConnection, member_id: i32) -> AppResult<Vec<StatusEvent>> {
    use crate::db::schema::org_units;
    Ok(crate::on_backend!(conn, c => membership_events::table
        .inner_join(org_units::table)
        .filter(membership_events::member_id.eq(member_id))
        .select((
            membership_events::status,
            org_units::name,
            membership_events::note,
            membership_events::at,
        ))
        .order(membership_events::id.asc())
        .load(c))?)
}

pub fn first_at(
    conn: &mut DbConnection,
    member_id: i32,
    status: Status,
) -> AppResult<Option<NaiveDateTime>> {
    Ok(crate::on_backend!(conn, c => membership_events::table
        .filter(membership_events::member_id.eq(member_id))
        .filter(membership_events::status.eq(status.as_str()))
        .select(diesel::dsl::min(membership_events::at))
        .first::<Option<NaiveDateTime>>(c))?)
}

// --- applications -------------------------------------------------------------------------

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = membership_applications)]
pub struct Application {
    pub id: i32,
    pub name: String,
    pub employee_no: String,
    pub phone: String,
    pub unit_id: i32,
    pub statement: String,
    pub state: super::join::State,
    pub version: i32,
    pub reason: Option<String>,
    pub member_id: Option<i32>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = membership_applications)]
pub struct NewApplication<'a> {
    pub name: &'a str,
    pub employee_no: &'a str,
    pub phone: &'a str,
    pub unit_id: i32,
    pub statement: &'a str,
    pub state: super::join::State,
    pub code_hash: &'a str,
    pub address_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Application {
    pub fn submitted(&self) -> String {
        crate::time::beijing(&self.created_at, "%Y-%m-%d %H:%M")
    }
}

/// One line of an application's or a transfer's timeline.
#[derive(Queryable, Debug, Clone)]
pub struct TimelineRow {
    pub kind: String,
    pub to_state: Option<String>,
    pub author_label: String,
    pub body: String,
    pub created_at: NaiveDateTime,
}

pub fn insert_application(conn: &mut DbConnection, new: &NewApplication<'_>) -> AppResult<i32> {
    Ok(
        crate::on_backend!(conn, c => diesel::insert_into(membership_applications::table)
        .values(new)
        .returning(membership_applications::id)
        .get_result(c))?,
    )
}

pub fn find_application(conn: &mut DbConnection, id: i32) -> AppResult<Option<Application>> {
    Ok(crate::on_backend!(conn, c => membership_applications::table
        .find(id)
        .select(Application::as_select())
        .first(c)
        .optional())?)
}

/// The application behind a phone number and a progress code digest (the newest, should two
/// share both).
pub fn find_by_code(
    conn: &mut DbConnection,
    phone: &str,
    code_hash: &str,
) -> AppResult<Option<Application>> {
    Ok(crate::on_backend!(conn, c => membership_applications::table
        .filter(membership_applications::phone.eq(phone))
        .filter(membership_applications::code_hash.eq(code_hash))
        .select(Application::as_select())
        .order(membership_applications::id.desc())
        .first(c)
        .optional())?)
}

/// Live applications (not yet decided) other than `id` with this employee number or phone.
pub fn other_live_applications(
    conn: &mut DbConnection,
    id: i32,
    employee_no: &str,
    phone: &str,
) -> AppResult<i64> {
    use super::join::State;
    let live = [State::Submitted, State::Returned, State::Reviewed];
    Ok(crate::on_backend!(conn, c => membership_applications::table
        .filter(membership_applications::id.ne(id))
        .filter(membership_applications::state.eq_any(live))
        .filter(
            membership_applications::employee_no
                .eq(employee_no)
                .or(membership_applications::phone.eq(phone)),
        )
        .count()
        .get_result(c))?)
}

/// Applications from one address digest since `since`.
pub fn applications_from(
    conn: &mut DbConnection,
    address_hash: &str,
    since: NaiveDateTime,
) -> AppResult<i64> {
    Ok(crate::on_backend!(conn, c => membership_applications::table
        .filter(membership_applications::address_hash.eq(address_hash))
        .filter(membership_applications::created_at.ge(since))
        .count()
        .get_result(c))?)
}

/// Applications to units under any of the path prefixes (all for `None`), newest first.
pub fn applications_in(
    conn: &mut DbConnection,
    prefixes: Option<&[String]>,
    states: &[super::join::State],
) -> AppResult<Vec<(Application, String)>> {
    use crate::db::schema::org_units;
    // The scope is filtered in SQL, before the limit: others' applications cannot push a
    // branch's own off its list.
    let rows: Vec<(Application, String)> = crate::on_backend!(conn, c => {
        let mut q = membership_applications::table
            .inner_join(org_units::table)
            .filter(membership_applications::state.eq_any(states))
            .select((Application::as_select(), org_units::name))
            .order(membership_applications::id.desc())
            .limit(500)
            .into_boxed();
        if let Some(ps) = prefixes {
            let mut cond: Box<dyn BoxableExpression<_, _, SqlType = diesel::sql_types::Bool>> =
                Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 0"));
            for p in ps {
                cond = Box::new(cond.or(org_units::path.like(format!("{p}%"))));
            }
            q = q.filter(cond);
        }
        q.load(c)
    })?;
    Ok(rows)
}

/// Who took the application to "reviewed" last (the approver must be someone else).
pub fn reviewer_of(conn: &mut DbConnection, application_id: i32) -> AppResult<Option<i32>> {
    Ok(
        crate::on_backend!(conn, c => membership_application_events::table
        .filter(membership_application_events::application_id.eq(application_id))
        .filter(membership_application_events::to_state.eq("reviewed"))
        .select(membership_application_events::author_id)
        .order(membership_application_events::id.desc())
        .first::<Option<i32>>(c)
        .optional())?
        .flatten(),
    )
}

pub fn set_application_outcome(
    conn: &mut DbConnection,
    id: i32,
    reason: Option<&str>,
    member_id: Option<i32>,
) -> AppResult<()> {
    diesel::update(membership_applications::table.find(id))
        .set((
            membership_applications::reason.eq(reason),
            membership_applications::member_id.eq(member_id),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_statement(conn: &mut DbConnection, id: i32, statement: &str) -> AppResult<()> {
    diesel::update(membership_applications::table.find(id))
        .set(membership_applications::statement.eq(statement))
        .execute(conn)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub fn insert_application_event(
    conn: &mut DbConnection,
    application_id: i32,
    kind: &str,
    from_state: Option<&str>,
    to_state: Option<&str>,
    author: (Option<i32>, &str),
    body: &str,
    at: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(membership_application_events::table)
        .values((
            membership_application_events::application_id.eq(application_id),
            membership_application_events::kind.eq(kind),
            membership_application_events::from_state.eq(from_state),
            membership_application_events::to_state.eq(to_state),
            membership_application_events::author_id.eq(author.0),
            membership_application_events::author_label.eq(author.1),
            membership_application_events::body.eq(body),
            membership_application_events::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn application_timeline(conn: &mut DbConnection, id: i32) -> AppResult<Vec<TimelineRow>> {
    Ok(
        crate::on_backend!(conn, c => membership_application_events::table
        .filter(membership_application_events::application_id.eq(id))
        .select((
            membership_application_events::kind,
            membership_application_events::to_state,
            membership_application_events::author_label,
            membership_application_events::body,
            membership_application_events::created_at,
        ))
        .order(membership_application_events::id.asc())
        .load(c))?,
    )
}

// --- transfers ----------------------------------------------------------------------------

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = member_transfers)]
pub struct Transfer {
    pub id: i32,
    pub member_id: i32,
    pub from_unit_id: i32,
    pub to_unit_id: i32,
    pub reason: String,
    pub state: super::transfer::State,
    pub version: i32,
    pub started_by: Option<i32>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert_transfer(
    conn: &mut DbConnection,
    member_id: i32,
    from: i32,
    to: i32,
    reason: &str,
    started_by: i32,
    now: NaiveDateTime,
) -> AppResult<i32> {
    Ok(
        crate::on_backend!(conn, c => diesel::insert_into(member_transfers::table)
        .values((
            member_transfers::member_id.eq(member_id),
            member_transfers::from_unit_id.eq(from),
            member_transfers::to_unit_id.eq(to),
            member_transfers::reason.eq(reason),
            member_transfers::state.eq(super::transfer::State::Requested),
            member_transfers::started_by.eq(started_by),
            member_transfers::created_at.eq(now),
            member_transfers::updated_at.eq(now),
        ))
        .returning(member_transfers::id)
        .get_result(c))?,
    )
}

pub fn find_transfer(conn: &mut DbConnection, id: i32) -> AppResult<Option<Transfer>> {
    Ok(crate::on_backend!(conn, c => member_transfers::table
        .find(id)
        .select(Transfer::as_select())
        .first(c)
        .optional())?)
}

/// A member's transfers, newest first.
pub fn transfers_of(conn: &mut DbConnection, member_id: i32) -> AppResult<Vec<Transfer>> {
    Ok(crate::on_backend!(conn, c => member_transfers::table
        .filter(member_transfers::member_id.eq(member_id))
        .select(Transfer::as_select())
        .order(member_transfers::id.desc())
        .load(c))?)
}

/// Transfers in the given states from or to one of `units` (`None`: all), newest first:
/// filtered in SQL before the cap, so transfers elsewhere cannot push the caller's out.
pub fn transfers_in_states(
    conn: &mut DbConnection,
    states: &[super::transfer::State],
    units: Option<&[i32]>,
) -> AppResult<Vec<Transfer>> {
    Ok(crate::on_backend!(conn, c => {
        let mut q = member_transfers::table
            .filter(member_transfers::state.eq_any(states))
            .into_boxed();
        if let Some(units) = units {
            q = q.filter(
                member_transfers::from_unit_id
                    .eq_any(units)
                    .or(member_transfers::to_unit_id.eq_any(units)),
            );
        }
        q.select(Transfer::as_select())
            .order(member_transfers::id.desc())
            .limit(500)
            .load(c)
    })?)
}

#[allow(clippy::too_many_arguments)]
pub fn insert_transfer_event(
    conn: &mut DbConnection,
    transfer_id: i32,
    kind: &str,
    from_state: Option<&str>,
    to_state: Option<&str>,
    author: (Option<i32>, &str),
    body: &str,
    at: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(member_transfer_events::table)
        .values((
            member_transfer_events::transfer_id.eq(transfer_id),
            member_transfer_events::kind.eq(kind),
            member_transfer_events::from_state.eq(from_state),
            member_transfer_events::to_state.eq(to_state),
            member_transfer_events::author_id.eq(author.0),
            member_transfer_events::author_label.eq(author.1),
            member_transfer_events::body.eq(body),
            member_transfer_events::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn transfer_timeline(conn: &mut DbConnection, id: i32) -> AppResult<Vec<TimelineRow>> {
    Ok(crate::on_backend!(conn, c => member_transfer_events::table
        .filter(member_transfer_events::transfer_id.eq(id))
        .select((
            member_transfer_events::kind,
            member_transfer_events::to_state,
            member_transfer_events::author_label,
            member_transfer_events::body,
            member_transfer_events::created_at,
        ))
        .order(member_transfer_events::id.asc())
        .load(c))?)
}

/// Move the member to another unit; the grid cadre is cleared (a grid belongs to a unit).
pub fn move_member(
    conn: &mut DbConnection,
    member_id: i32,
    unit_id: i32,
    now: NaiveDateTime,
) -> AppResult<()> {
    diesel::update(members::table.find(member_id))
        .set((
            members::unit_id.eq(unit_id),
            members::grid_cadre_id.eq(None::<i32>),
            members::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

impl TimelineRow {
    pub fn when(&self) -> String {
        crate::time::beijing(&self.created_at, "%Y-%m-%d %H:%M")
    }
    /// "王小明：初审通过" — the author and the state the step led to (or what happened).
    pub fn headline(&self) -> String {
        let what = match self.to_state.as_deref() {
            Some(s) => super::join::State::parse(s)
                .map(|x| x.label())
                .or_else(|| super::transfer::State::parse(s).map(|x| x.label()))
                .unwrap_or(s)
                .to_string(),
            None => match self.kind.as_str() {
                "handover" => "移交".to_string(),
                k => k.to_string(),
            },
        };
        format!("{}：{what}", self.author_label)
    }
}

// --- dues ---------------------------------------------------------------------------------

/// The amount recorded for a member and month, if any.
pub fn dues_amount(conn: &mut DbConnection, member_id: i32, month: &str) -> AppResult<Option<i64>> {
    use crate::db::schema::member_dues as d;
    Ok(crate::on_backend!(conn, c => d::table
        .find((member_id, month))
        .select(d::amount_fen)
        .first(c)
        .optional())?)
}

/// Record (or correct) one month's dues.
pub fn put_dues(
    conn: &mut DbConnection,
    member_id: i32,
    month: &str,
    amount_fen: i64,
    now: NaiveDateTime,
) -> AppResult<()> {
    use crate::db::schema::member_dues as d;
    // One statement, so two imports racing on the same month cannot collide on the key.
    crate::on_backend!(conn, c => diesel::insert_into(d::table)
        .values((
            d::member_id.eq(member_id),
            d::month.eq(month),
            d::amount_fen.eq(amount_fen),
            d::imported_at.eq(now),
        ))
        .on_conflict((d::member_id, d::month))
        .do_update()
        .set((d::amount_fen.eq(amount_fen), d::imported_at.eq(now)))
        .execute(c))?;
    // The member's newest paid month moves only forward (the arrears list reads it).
    diesel::update(
        members::table.filter(members::id.eq(member_id)).filter(
            members::last_dues_month
                .is_null()
                .or(members::last_dues_month.lt(month)),
        ),
    )
    .set(members::last_dues_month.eq(month))
    .execute(conn)?;
    Ok(())
}

/// A member's dues, newest month first: (month, fen).
pub fn dues_of(conn: &mut DbConnection, member_id: i32) -> AppResult<Vec<(String, i64)>> {
    use crate::db::schema::member_dues as d;
    Ok(crate::on_backend!(conn, c => d::table
        .filter(d::member_id.eq(member_id))
        .select((d::month, d::amount_fen))
        .order(d::month.desc())
        .limit(120)
        .load(c))?)
}

/// Members (member or retired, not disabled) in `units` (all for `None`) with no dues paid
/// from `since` ("YYYY-MM") on: how many, and `limit` of them from `offset` in id order, with
/// their unit name and last paid month. One indexed filter on `members.last_dues_month`.
pub fn arrears(
    conn: &mut DbConnection,
    units: Option<&[i32]>,
    since: &str,
    (limit, offset): (i64, i64),
) -> AppResult<(i64, Vec<super::dues::Arrear>)> {
    use crate::db::schema::org_units;
    let build = || {
        let mut q = members::table
            .filter(members::disabled.eq(false))
            .filter(members::status.eq_any(["member", "retired"]))
            .filter(
                members::last_dues_month
                    .is_null()
                    .or(members::last_dues_month.lt(since.to_string())),
            )
            .into_boxed();
        if let Some(ids) = units {
            q = q.filter(members::unit_id.eq_any(ids.to_vec()));
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    // A page past the end shows the last one.
    let last_page_start = total
        .saturating_sub(1)
        .max(0)
        .checked_div(limit.max(1))
        .unwrap_or(0)
        .saturating_mul(limit.max(1));
    let offset = offset.min(last_page_start);
    let rows: Vec<(i32, String, String, i32, Option<String>)> = build()
        .order(members::id.asc())
        .limit(limit)
        .offset(offset)
        .select((
            members::id,
            members::name,
            members::employee_no,
            members::unit_id,
            members::last_dues_month,
        ))
        .load(conn)?;
    let mut unit_ids: Vec<i32> = rows.iter().map(|r| r.3).collect();
    unit_ids.sort_unstable();
    unit_ids.dedup();
    let names: std::collections::HashMap<i32, String> = org_units::table
        .filter(org_units::id.eq_any(&unit_ids))
        .select((org_units::id, org_units::name))
        .load::<(i32, String)>(conn)?
        .into_iter()
        .collect();
    let out = rows
        .into_iter()
        .map(
            |(member_id, name, employee_no, unit, last_paid)| super::dues::Arrear {
                member_id,
                name,
                employee_no,
                unit: names.get(&unit).cloned().unwrap_or_default(),
                last_paid,
            },
        )
        .collect();
    Ok((total, out))
}

/// Dues collected per month since `from` (inclusive, "YYYY-MM"): (month, members paid).
pub fn dues_per_month(conn: &mut DbConnection, from: &str) -> AppResult<Vec<(String, i64)>> {
    use crate::db::schema::member_dues as d;
    Ok(crate::on_backend!(conn, c => d::table
        .filter(d::month.ge(from))
        .group_by(d::month)
        .select((d::month, diesel::dsl::count_star()))
        .order(d::month.asc())
        .load(c))?)
}

// --- leaving ------------------------------------------------------------------------------

/// Members who left (status "left", not yet anonymised) on or before `cutoff`, by the time of
/// their last "left" row.
pub fn left_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> AppResult<Vec<i32>> {
    let left: Vec<(i32, Option<NaiveDateTime>)> = crate::on_backend!(conn, c => membership_events::table
        .inner_join(members::table.on(members::id.eq(membership_events::member_id)))
        .filter(members::status.eq("left"))
        .filter(members::anonymised_at.is_null())
        .filter(membership_events::status.eq("left"))
        .group_by(membership_events::member_id)
        .select((membership_events::member_id, diesel::dsl::max(membership_events::at)))
        .load(c))?;
    Ok(left
        .into_iter()
        .filter(|(_, at)| at.is_some_and(|t| t <= cutoff))
        .map(|(id, _)| id)
        .collect())
}

/// Replace a member's personal data with a placeholder, keeping the row (statistics, dues,
/// cases and their timelines stay, under the placeholder name). Then the registry's scrub:
/// sessions, notifications and the photo go; their name, number and phone are replaced
/// wherever they were copied (labels, applications, notification titles, audit rows, texts).
pub fn anonymise(conn: &mut DbConnection, member_id: i32, now: NaiveDateTime) -> AppResult<()> {
    use crate::personal_data::retention::{scrub, Subject, PLACEHOLDER};
    let (name, employee_no, phone): (String, String, Option<String>) = members::table
        .find(member_id)
        .select((members::name, members::employee_no, members::phone))
        .first(conn)?;
    diesel::update(members::table.find(member_id))
        .set((
            members::name.eq(PLACEHOLDER),
            members::employee_no.eq(format!("removed-{member_id}")),
            members::phone.eq(None::<String>),
            members::password_hash.eq(None::<String>),
            members::disabled.eq(true),
            members::anonymised_at.eq(Some(now)),
            members::updated_at.eq(now),
        ))
        .execute(conn)?;
    let phone = phone.unwrap_or_default();
    let identifiers = [employee_no.as_str(), phone.as_str()];
    scrub(
        conn,
        &Subject {
            member_id: Some(member_id),
            name: &name,
            identifiers: &identifiers,
        },
    )?;
    Ok(())
}

/// Applications of people who never became members, untouched since `cutoff`:
/// (id, name, employee number, phone).
pub fn stale_applications(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
) -> AppResult<Vec<(i32, String, String, String)>> {
    use crate::personal_data::retention::PLACEHOLDER;
    Ok(crate::on_backend!(conn, c => membership_applications::table
        .filter(membership_applications::member_id.is_null())
        .filter(membership_applications::updated_at.le(cutoff))
        .filter(membership_applications::name.ne(PLACEHOLDER))
        .select((
            membership_applications::id,
            membership_applications::name,
            membership_applications::employee_no,
            membership_applications::phone,
        ))
        .limit(500)
        .load(c))?)
}

/// Blank one such application, and its applicant's name, number and phone where the portal
/// copied them about this application: its timeline, its audit rows, the cadres' notifications.
/// Nowhere else: an applicant chooses their own name, and "工会" must not scrub the site.
pub fn anonymise_application(
    conn: &mut DbConnection,
    app: &(i32, String, String, String),
) -> AppResult<()> {
    use crate::db::schema::membership_application_events as e;
    use crate::personal_data::retention::{replace_values, Bounds, PLACEHOLDER};
    let (id, name, number, phone) = app;
    diesel::update(membership_applications::table.find(*id))
        .set((
            membership_applications::name.eq(PLACEHOLDER),
            membership_applications::employee_no.eq(PLACEHOLDER),
            membership_applications::phone.eq(PLACEHOLDER),
            membership_applications::statement.eq(""),
        ))
        .execute(conn)?;
    // The applicant's own lines carry no account to scrub by.
    diesel::update(
        e::table
            .filter(e::application_id.eq(*id))
            .filter(e::author_id.is_null()),
    )
    .set(e::author_label.eq(PLACEHOLDER))
    .execute(conn)?;
    let places = [
        (
            "membership_application_events",
            "body",
            format!("application_id = {id}"),
        ),
        (
            "audit_log",
            "detail",
            format!("object_type = 'membership_application' AND object_id = '{id}'"),
        ),
        (
            "notifications",
            "title",
            format!("link = '/admin/membership/applications/{id}'"),
        ),
    ];
    for (table, col, cond) in &places {
        for (needle, bounds) in [
            (name, Bounds::Anywhere),
            (number, Bounds::Word),
            (phone, Bounds::Word),
        ] {
            if needle.chars().count() >= 2 && needle != PLACEHOLDER {
                replace_values(conn, table, col, Some(cond), needle, bounds)?;
            }
        }
    }
    Ok(())
}

// --- card photo ---------------------------------------------------------------------------

/// Store (or replace) the member's card photo (already re-encoded).
pub fn put_photo(
    conn: &mut DbConnection,
    member_id: i32,
    data: &[u8],
    now: NaiveDateTime,
) -> AppResult<()> {
    use crate::db::schema::member_photos as p;
    let changed = diesel::update(p::table.find(member_id))
        .set((
            p::data.eq(data),
            p::mime.eq("image/jpeg"),
            p::updated_at.eq(now),
        ))
        .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(p::table)
            .values((
                p::member_id.eq(member_id),
                p::mime.eq("image/jpeg"),
                p::data.eq(data),
                p::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// When the member's photo was last changed, if they have one.
pub fn photo_stamp(conn: &mut DbConnection, member_id: i32) -> AppResult<Option<NaiveDateTime>> {
    use crate::db::schema::member_photos as p;
    Ok(crate::on_backend!(conn, c => p::table
        .find(member_id)
        .select(p::updated_at)
        .first(c)
        .optional())?)
}

pub fn photo(conn: &mut DbConnection, member_id: i32) -> AppResult<Option<Vec<u8>>> {
    use crate::db::schema::member_photos as p;
    Ok(crate::on_backend!(conn, c => p::table
        .find(member_id)
        .select(p::data)
        .first(c)
        .optional())?)
}

// --- dashboard ----------------------------------------------------------------------------

/// Members not anonymised, counted per (unit, status) in SQL.
pub fn status_counts(conn: &mut DbConnection) -> AppResult<Vec<(i32, String, i64)>> {
    Ok(crate::on_backend!(conn, c => members::table
        .filter(members::anonymised_at.is_null())
        .group_by((members::unit_id, members::status))
        .select((members::unit_id, members::status, diesel::dsl::count_star()))
        .load(c))?)
}

/// (unit, created at) of the members not anonymised created since `since`.
pub fn created_since(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> AppResult<Vec<(i32, NaiveDateTime)>> {
    Ok(crate::on_backend!(conn, c => members::table
        .filter(members::anonymised_at.is_null())
        .filter(members::created_at.ge(since))
        .select((members::unit_id, members::created_at))
        .load(c))?)
}

/// Members (status member, not anonymised) in `units` (None: all) with dues for `month`.
pub fn paid_count(conn: &mut DbConnection, units: Option<&[i32]>, month: &str) -> AppResult<i64> {
    use crate::db::schema::member_dues as d;
    let mut q = members::table
        .filter(members::anonymised_at.is_null())
        .filter(members::status.eq("member"))
        .filter(diesel::dsl::exists(
            d::table
                .filter(d::member_id.eq(members::id))
                .filter(d::month.eq(month.to_string())),
        ))
        .into_boxed();
    if let Some(u) = units {
        q = q.filter(members::unit_id.eq_any(u.to_vec()));
    }
    Ok(q.count().get_result(conn)?)
}

/// (unit path, at) of the "left" rows since `since`.
pub fn leaves_since(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> AppResult<Vec<(String, NaiveDateTime)>> {
    use crate::db::schema::org_units;
    Ok(crate::on_backend!(conn, c => membership_events::table
        .inner_join(org_units::table)
        .filter(membership_events::status.eq("left"))
        .filter(membership_events::at.ge(since))
        .select((org_units::path, membership_events::at))
        .load(c))?)
}

/// (from path, to path, when) of transfers accepted since `since`.
pub fn transfers_done_since(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> AppResult<Vec<(String, String, NaiveDateTime)>> {
    use crate::db::schema::org_units;
    let rows: Vec<(i32, i32, NaiveDateTime)> = crate::on_backend!(conn, c => member_transfers::table
        .filter(member_transfers::state.eq("accepted"))
        .filter(member_transfers::updated_at.ge(since))
        .select((member_transfers::from_unit_id, member_transfers::to_unit_id, member_transfers::updated_at))
        .load(c))?;
    let paths: std::collections::HashMap<i32, String> =
        crate::on_backend!(conn, c => org_units::table
        .select((org_units::id, org_units::path))
        .load::<(i32, String)>(c))?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(f, t, at)| {
            (
                paths.get(&f).cloned().unwrap_or_default(),
                paths.get(&t).cloned().unwrap_or_default(),
                at,
            )
        })
        .collect())
}

/// Many dues rows at once (the demo's twelve months): (member, month, fen).
pub fn insert_dues_batch(
    conn: &mut DbConnection,
    rows: &[(i32, String, i64)],
    now: NaiveDateTime,
) -> AppResult<()> {
    use crate::db::schema::member_dues as d;
    for chunk in rows.chunks(500) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(m, month, fen)| {
                (
                    d::member_id.eq(*m),
                    d::month.eq(month.as_str()),
                    d::amount_fen.eq(*fen),
                    d::imported_at.eq(now),
                )
            })
            .collect();
        crate::on_backend!(conn, c => diesel::insert_into(d::table).values(&values).execute(c))?;
        let ids: Vec<i32> = chunk.iter().map(|(m, _, _)| *m).collect();
        refresh_last_dues(conn, &ids)?;
    }
    Ok(())
}

/// Recompute these members' newest paid month from their dues rows.
pub fn refresh_last_dues(conn: &mut DbConnection, ids: &[i32]) -> AppResult<()> {
    use crate::db::schema::member_dues as d;
    use diesel::dsl::max;
    for chunk in ids.chunks(500) {
        diesel::update(members::table.filter(members::id.eq_any(chunk)))
            .set(
                members::last_dues_month.eq(d::table
                    .filter(d::member_id.eq(members::id))
                    .select(max(d::month))
                    .single_value()
                    .assume_not_null()
                    .nullable()),
            )
            .execute(conn)?;
    }
    Ok(())
}
