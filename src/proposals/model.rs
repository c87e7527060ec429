//! Proposal rows and their queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::State;
use crate::db::schema::{
    congress_committee, congress_delegates, congress_sessions, department_handlers, departments,
    proposal_cosigners, proposal_departments, proposal_events, proposals,
};
use crate::db::DbConnection;
use crate::error::AppResult;

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = congress_sessions)]
pub struct Session {
    pub id: i32,
    pub name: String,
    pub opens_at: NaiveDateTime,
    pub closes_at: NaiveDateTime,
    pub min_cosigners: i32,
}

impl Session {
    pub fn open_at(&self, now: NaiveDateTime) -> bool {
        self.opens_at <= now && now < self.closes_at
    }
    pub fn window(&self) -> String {
        format!(
            "{} 至 {}",
            crate::time::beijing(&self.opens_at, "%Y-%m-%d"),
            crate::time::beijing(&self.closes_at, "%Y-%m-%d")
        )
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = proposals)]
pub struct Proposal {
    pub id: i32,
    pub session_id: i32,
    pub author_id: i32,
    pub title: String,
    pub reason: String,
    pub measures: String,
    pub category: String,
    pub state: State,
    pub version: i32,
    pub due_at: Option<NaiveDateTime>,
    pub overdue: bool,
    pub merged_into: Option<i32>,
    pub decision_note: Option<String>,
    pub lead_department_id: Option<i32>,
    pub answer: Option<String>,
    pub grade: Option<String>,
    pub answers: i32,
    pub rating: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert_session(
    conn: &mut DbConnection,
    name: &str,
    opens: NaiveDateTime,
    closes: NaiveDateTime,
    min_cosigners: i32,
    now: NaiveDateTime,
) -> AppResult<i32> {
    Ok(
        crate::on_backend!(conn, c => diesel::insert_into(congress_sessions::table)
        .values((
            congress_sessions::name.eq(name),
            congress_sessions::opens_at.eq(opens),
            congress_sessions::closes_at.eq(closes),
            congress_sessions::min_cosigners.eq(min_cosigners),
            congress_sessions::created_at.eq(now),
        ))
        .returning(congress_sessions::id)
        .get_result(c))?,
    )
}

pub fn session(conn: &mut DbConnection, id: i32) -> AppResult<Option<Session>> {
    Ok(crate::on_backend!(conn, c => congress_sessions::table
        .find(id)
        .select(Session::as_select())
        .first(c)
        .optional())?)
}

/// Sessions, newest first.
pub fn sessions(conn: &mut DbConnection) -> AppResult<Vec<Session>> {
    Ok(crate::on_backend!(conn, c => congress_sessions::table
        .select(Session::as_select())
        .order(congress_sessions::opens_at.desc())
        .load(c))?)
}

pub fn add_delegate(
    conn: &mut DbConnection,
    session: i32,
    member: i32,
    delegation: &str,
) -> AppResult<()> {
    crate::on_backend!(conn, c => diesel::insert_into(congress_delegates::table)
        .values((
            congress_delegates::session_id.eq(session),
            congress_delegates::member_id.eq(member),
            congress_delegates::delegation.eq(delegation),
        ))
        .on_conflict((congress_delegates::session_id, congress_delegates::member_id))
        .do_nothing()
        .execute(c))?;
    Ok(())
}

pub fn is_delegate(conn: &mut DbConnection, session: i32, member: i32) -> AppResult<bool> {
    Ok(crate::on_backend!(conn, c => congress_delegates::table
        .find((session, member))
        .count()
        .get_result::<i64>(c))?
        > 0)
}

pub fn add_to_committee(conn: &mut DbConnection, member: i32) -> AppResult<()> {
    crate::on_backend!(conn, c => diesel::insert_into(congress_committee::table)
        .values(congress_committee::member_id.eq(member))
        .on_conflict(congress_committee::member_id)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

pub fn on_committee(conn: &mut DbConnection, member: i32) -> AppResult<bool> {
    Ok(crate::on_backend!(conn, c => congress_committee::table
        .find(member)
        .count()
        .get_result::<i64>(c))?
        > 0)
}

pub fn committee(conn: &mut DbConnection) -> AppResult<Vec<i32>> {
    Ok(crate::on_backend!(conn, c => congress_committee::table
        .select(congress_committee::member_id)
        .load(c))?)
}

pub fn insert_department(
    conn: &mut DbConnection,
    name: &str,
    now: NaiveDateTime,
) -> AppResult<i32> {
    Ok(
        crate::on_backend!(conn, c => diesel::insert_into(departments::table)
        .values((departments::name.eq(name), departments::created_at.eq(now)))
        .returning(departments::id)
        .get_result(c))?,
    )
}

pub fn departments(conn: &mut DbConnection) -> AppResult<Vec<(i32, String)>> {
    Ok(crate::on_backend!(conn, c => departments::table
        .select((departments::id, departments::name))
        .order(departments::id.asc())
        .load(c))?)
}

pub fn add_handler(conn: &mut DbConnection, department: i32, member: i32) -> AppResult<()> {
    crate::on_backend!(conn, c => diesel::insert_into(department_handlers::table)
        .values((
            department_handlers::department_id.eq(department),
            department_handlers::member_id.eq(member),
        ))
        .on_conflict((department_handlers::department_id, department_handlers::member_id))
        .do_nothing()
        .execute(c))?;
    Ok(())
}

/// The departments a member handles for.
pub fn handled_by(conn: &mut DbConnection, member: i32) -> AppResult<Vec<i32>> {
    Ok(crate::on_backend!(conn, c => department_handlers::table
        .filter(department_handlers::member_id.eq(member))
        .select(department_handlers::department_id)
        .load(c))?)
}

pub fn handlers_of(conn: &mut DbConnection, department: i32) -> AppResult<Vec<i32>> {
    Ok(crate::on_backend!(conn, c => department_handlers::table
        .filter(department_handlers::department_id.eq(department))
        .select(department_handlers::member_id)
        .load(c))?)
}

#[allow(clippy::too_many_arguments)]
pub fn insert_proposal(
    conn: &mut DbConnection,
    session: i32,
    author: i32,
    title: &str,
    reason: &str,
    measures: &str,
    category: &str,
    now: NaiveDateTime,
) -> AppResult<i32> {
    Ok(
        crate::on_backend!(conn, c => diesel::insert_into(proposals::table)
        .values((
            proposals::session_id.eq(session),
            proposals::author_id.eq(author),
            proposals::title.eq(title),
            proposals::reason.eq(reason),
            proposals::measures.eq(measures),
            proposals::category.eq(category),
            proposals::state.eq(State::Draft),
            proposals::created_at.eq(now),
            proposals::updated_at.eq(now),
        ))
        .returning(proposals::id)
        .get_result(c))?,
    )
}

pub fn find(conn: &mut DbConnection, id: i32) -> AppResult<Option<Proposal>> {
    Ok(crate::on_backend!(conn, c => proposals::table
        .find(id)
        .select(Proposal::as_select())
        .first(c)
        .optional())?)
}

/// Proposals of a session in the given states, newest first.
pub fn of_session(
    conn: &mut DbConnection,
    session: i32,
    states: &[State],
) -> AppResult<Vec<Proposal>> {
    Ok(crate::on_backend!(conn, c => proposals::table
        .filter(proposals::session_id.eq(session))
        .filter(proposals::state.eq_any(states))
        .select(Proposal::as_select())
        .order(proposals::id.desc())
        .load(c))?)
}

/// Proposals in the given states whose answer is due before `now` and not yet marked overdue.
pub fn overdue(
    conn: &mut DbConnection,
    states: &[State],
    now: NaiveDateTime,
) -> AppResult<Vec<Proposal>> {
    Ok(crate::on_backend!(conn, c => proposals::table
        .filter(proposals::state.eq_any(states))
        .filter(proposals::overdue.eq(false))
        .filter(proposals::due_at.lt(now))
        .select(Proposal::as_select())
        .load(c))?)
}

/// What a step changes besides the state.
#[derive(AsChangeset, Default)]
#[diesel(table_name = proposals)]
pub struct Changes<'a> {
    pub overdue: Option<bool>,
    pub merged_into: Option<Option<i32>>,
    pub decision_note: Option<Option<&'a str>>,
    pub lead_department_id: Option<Option<i32>>,
    pub answer: Option<Option<&'a str>>,
    pub grade: Option<Option<&'a str>>,
    pub answers: Option<i32>,
    pub rating: Option<Option<&'a str>>,
    pub submitted_at: Option<Option<NaiveDateTime>>,
}

pub fn set(conn: &mut DbConnection, id: i32, c: &Changes<'_>) -> AppResult<()> {
    diesel::update(proposals::table.find(id))
        .set(c)
        .execute(conn)?;
    Ok(())
}

pub fn cosign(
    conn: &mut DbConnection,
    proposal: i32,
    member: i32,
    at: NaiveDateTime,
) -> AppResult<bool> {
    let n = crate::on_backend!(conn, c => diesel::insert_into(proposal_cosigners::table)
        .values((
            proposal_cosigners::proposal_id.eq(proposal),
            proposal_cosigners::member_id.eq(member),
            proposal_cosigners::at.eq(at),
        ))
        .on_conflict((proposal_cosigners::proposal_id, proposal_cosigners::member_id))
        .do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

pub fn cosigners(conn: &mut DbConnection, proposal: i32) -> AppResult<Vec<i32>> {
    Ok(crate::on_backend!(conn, c => proposal_cosigners::table
        .filter(proposal_cosigners::proposal_id.eq(proposal))
        .select(proposal_cosigners::member_id)
        .order(proposal_cosigners::at.asc())
        .load(c))?)
}

pub fn set_departments(
    conn: &mut DbConnection,
    proposal: i32,
    lead: i32,
    co: &[i32],
) -> AppResult<()> {
    diesel::delete(
        proposal_departments::table.filter(proposal_departments::proposal_id.eq(proposal)),
    )
    .execute(conn)?;
    let mut co: Vec<i32> = co.iter().copied().filter(|d| *d != lead).collect();
    co.sort_unstable();
    co.dedup();
    let mut rows = vec![(lead, true)];
    rows.extend(co.into_iter().map(|d| (d, false)));
    for (d, lead) in rows {
        diesel::insert_into(proposal_departments::table)
            .values((
                proposal_departments::proposal_id.eq(proposal),
                proposal_departments::department_id.eq(d),
                proposal_departments::lead.eq(lead),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// (department id, name, lead) of a proposal.
pub fn departments_of(
    conn: &mut DbConnection,
    proposal: i32,
) -> AppResult<Vec<(i32, String, bool)>> {
    Ok(crate::on_backend!(conn, c => proposal_departments::table
        .inner_join(departments::table)
        .filter(proposal_departments::proposal_id.eq(proposal))
        .select((departments::id, departments::name, proposal_departments::lead))
        .order(proposal_departments::lead.desc())
        .load(c))?)
}

#[derive(Queryable, Debug, Clone)]
pub struct Event {
    pub kind: String,
    pub to_state: Option<String>,
    pub author_label: String,
    pub body: String,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

impl Event {
    pub fn when(&self) -> String {
        crate::time::beijing(&self.created_at, "%Y-%m-%d %H:%M")
    }
    pub fn headline(&self) -> String {
        let what = match self.to_state.as_deref().and_then(State::parse) {
            Some(s) => s.label().to_string(),
            None => match self.kind.as_str() {
                "cosign" => "附议".to_string(),
                "overdue" => "答复超期".to_string(),
                k => k.to_string(),
            },
        };
        format!("{}：{what}", self.author_label)
    }
}

#[allow(clippy::too_many_arguments)]
pub fn insert_event(
    conn: &mut DbConnection,
    proposal: i32,
    kind: &str,
    from_state: Option<&str>,
    to_state: Option<&str>,
    author: (Option<i32>, &str),
    body: &str,
    internal: bool,
    at: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(proposal_events::table)
        .values((
            proposal_events::proposal_id.eq(proposal),
            proposal_events::kind.eq(kind),
            proposal_events::from_state.eq(from_state),
            proposal_events::to_state.eq(to_state),
            proposal_events::author_id.eq(author.0),
            proposal_events::author_label.eq(author.1),
            proposal_events::body.eq(body),
            proposal_events::internal.eq(internal),
            proposal_events::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn events(
    conn: &mut DbConnection,
    proposal: i32,
    with_internal: bool,
) -> AppResult<Vec<Event>> {
    let rows: Vec<Event> = crate::on_backend!(conn, c => proposal_events::table
        .filter(proposal_events::proposal_id.eq(proposal))
        .select((
            proposal_events::kind,
            proposal_events::to_state,
            proposal_events::author_label,
            proposal_events::body,
            proposal_events::internal,
            proposal_events::created_at,
        ))
        .order(proposal_events::id.asc())
        .load(c))?;
    Ok(rows
        .into_iter()
        .filter(|e| with_internal || !e.internal)
        .collect())
}

pub fn delegate_count(conn: &mut DbConnection, session: i32) -> AppResult<i64> {
    Ok(crate::on_backend!(conn, c => congress_delegates::table
        .filter(congress_delegates::session_id.eq(session))
        .count()
        .get_result(c))?)
}
