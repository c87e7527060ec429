//! Grievance rows, their timeline and attachments, and the queries over them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{grievance_events, grievances};
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::forms::Pager;

pub const CATEGORIES: &[(&str, &str)] = &[
    ("pay", "劳动报酬"),
    ("hours", "工时休假"),
    ("safety", "劳动安全"),
    ("contract", "劳动合同"),
    ("insurance", "社会保险"),
    ("bullying", "职场欺凌"),
    ("other", "其他"),
];

crate::text_enum! {
    /// Where a grievance stands. Stored as its code in `grievances.state`.
    pub enum State {
        Submitted = ("submitted", "已提交"),
        Escalated = ("escalated", "已转办"),
        Accepted = ("accepted", "已受理"),
        InProgress = ("in_progress", "办理中"),
        Answered = ("answered", "已答复"),
        Rated = ("rated", "已评价"),
        Closed = ("closed", "已办结"),
        Rejected = ("rejected", "不予受理"),
    }
}

crate::text_enum! {
    /// What a cadre, the member or the deadline job does to a case.
    pub enum Action {
        Accept = ("accept", "受理"),
        Reject = ("reject", "不予受理"),
        Start = ("start", "开始办理"),
        Answer = ("answer", "答复"),
        Escalate = ("escalate", "转上级工会"),
        Rate = ("rate", "评价"),
        Reopen = ("reopen", "申请重新办理"),
        Close = ("close", "办结"),
    }
}

/// A member may ask once to reopen an answered case, within this many days of the answer.
pub const REOPEN_DAYS: i64 = 7;

/// States in which a case waits for a cadre.
pub const OPEN_STATES: &[State] = &[
    State::Submitted,
    State::Escalated,
    State::Accepted,
    State::InProgress,
];

impl State {
    /// Waiting for a cadre.
    pub fn is_open(self) -> bool {
        OPEN_STATES.contains(&self)
    }

    /// Nothing more happens to the case (no replies, no follow-ups).
    pub fn is_final(self) -> bool {
        matches!(self, State::Rejected | State::Rated | State::Closed)
    }
}

pub fn category_label(code: &str) -> &str {
    CATEGORIES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, l)| l)
}

/// The label of a stored state code (timeline rows keep codes as text).
pub fn state_label(code: &str) -> &str {
    match State::parse(code) {
        Some(st) => st.label(),
        None => code,
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = grievances)]
pub struct Grievance {
    pub id: i32,
    pub member_id: Option<i32>,
    pub anonymous: bool,
    pub unit_id: i32,
    pub handler_id: Option<i32>,
    pub category: String,
    pub title: String,
    pub description: String,
    pub desired_outcome: String,
    pub state: State,
    pub version: i32,
    pub due_at: Option<NaiveDateTime>,
    pub overdue: bool,
    pub escalations: i32,
    pub resolution: Option<String>,
    pub reject_reason: Option<String>,
    pub rating: Option<i32>,
    pub rating_comment: Option<String>,
    pub reopened: bool,
    pub answered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// What people see and type: `WQ-2026-7F3KQ`, random, never the row id.
    pub public_ref: String,
}

impl Grievance {
    pub fn category_label(&self) -> &str {
        category_label(&self.category)
    }

    pub fn state_label(&self) -> &str {
        self.state.label()
    }

    pub fn filed_on(&self) -> String {
        crate::time::date_of(&self.created_at)
    }

    /// The deadline in Beijing time, with `fmt`, while the case is open.
    pub fn due_label(&self, fmt: &str) -> String {
        match self.due_at {
            Some(d) if self.is_open() => crate::time::beijing(&d, fmt),
            _ => String::new(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.state.is_open()
    }

    /// Answered and waiting for the member's rating (or reopening).
    pub fn is_answered(&self) -> bool {
        self.state == State::Answered
    }

    /// Nothing more happens to the case.
    pub fn is_final(&self) -> bool {
        self.state.is_final()
    }

    /// Why the member may not ask to reopen the case at `now` (once only, within
    /// `REOPEN_DAYS` of the answer), or `None`. The state itself is the workflow's check.
    /// One rule for the page (whether to offer it) and the action (whether to allow it).
    pub fn reopen_refusal(&self, now: NaiveDateTime) -> Option<&'static str> {
        if self.reopened {
            return Some("每个申诉只能申请重新办理一次");
        }
        let window = chrono::Duration::days(REOPEN_DAYS);
        if self
            .answered_at
            .is_none_or(|a| now.signed_duration_since(a) > window)
        {
            return Some("答复超过 7 天后不能再申请重新办理");
        }
        None
    }

    /// Past its time limit (the flag stays once escalated for lateness).
    pub fn is_late(&self, now: NaiveDateTime) -> bool {
        self.overdue || (self.is_open() && self.due_at.is_some_and(|d| d < now))
    }
}

#[derive(Insertable)]
#[diesel(table_name = grievances)]
pub struct NewGrievance<'a> {
    pub member_id: Option<i32>,
    pub anonymous: bool,
    pub receipt_hash: Option<&'a str>,
    pub submit_token: &'a str,
    pub unit_id: i32,
    pub handler_id: Option<i32>,
    pub category: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub desired_outcome: &'a str,
    pub state: State,
    pub version: i32,
    pub due_at: Option<NaiveDateTime>,
    pub overdue: bool,
    pub escalations: i32,
    pub reopened: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub public_ref: &'a str,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = grievance_events)]
pub struct GrievanceEvent {
    pub id: i32,
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub author_label: String,
    pub body: String,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

impl GrievanceEvent {
    /// Date and time; the date alone for entries stored date-only (anonymous side).
    pub fn when(&self) -> String {
        if self.created_at.time() == chrono::NaiveTime::MIN {
            crate::time::date_of(&self.created_at)
        } else {
            crate::time::beijing(&self.created_at, "%Y-%m-%d %H:%M")
        }
    }

    pub fn headline(&self) -> String {
        match (self.kind.as_str(), self.to_state.as_deref()) {
            ("state", Some(to)) => format!("{} · {}", self.author_label, state_label(to)),
            ("reply", _) => format!("{} 回复", self.author_label),
            ("note", _) => format!("{} · 内部备注", self.author_label),
            ("assign", _) => format!("{} · 指派", self.author_label),
            _ => self.author_label.clone(),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = grievance_events)]
pub struct NewEvent<'a> {
    pub grievance_id: i32,
    pub kind: &'a str,
    pub from_state: Option<&'a str>,
    pub to_state: Option<&'a str>,
    pub author_id: Option<i32>,
    pub author_label: &'a str,
    pub body: &'a str,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

pub use crate::attachments::AttachmentMeta;

pub fn find(conn: &mut DbConnection, id: i32) -> AppResult<Option<Grievance>> {
    Ok(grievances::table
        .find(id)
        .select(Grievance::as_select())
        .first(conn)
        .optional()?)
}

/// The case with public reference `r` (as typed: case and spaces do not matter).
pub fn find_by_ref(conn: &mut DbConnection, r: &str) -> AppResult<Option<Grievance>> {
    let r = r.trim().to_ascii_uppercase();
    Ok(grievances::table
        .filter(grievances::public_ref.eq(r))
        .select(Grievance::as_select())
        .first(conn)
        .optional()?)
}

pub fn ref_taken(conn: &mut DbConnection, r: &str) -> AppResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        grievances::table.filter(grievances::public_ref.eq(r)),
    ))
    .get_result(conn)?)
}

pub fn find_by_receipt(
    conn: &mut DbConnection,
    receipt_hash: &str,
) -> AppResult<Option<Grievance>> {
    Ok(grievances::table
        .filter(grievances::receipt_hash.eq(receipt_hash))
        .select(Grievance::as_select())
        .first(conn)
        .optional()?)
}

pub fn ref_by_submit_token(
    conn: &mut DbConnection,
    token: &str,
) -> AppResult<Option<(String, bool)>> {
    Ok(grievances::table
        .filter(grievances::submit_token.eq(token))
        .select((grievances::public_ref, grievances::anonymous))
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConnection, new: &NewGrievance<'_>) -> AppResult<i32> {
    Ok(diesel::insert_into(grievances::table)
        .values(new)
        .returning(grievances::id)
        .get_result(conn)?)
}

pub fn insert_event(conn: &mut DbConnection, e: &NewEvent<'_>) -> AppResult<()> {
    diesel::insert_into(grievance_events::table)
        .values(e)
        .execute(conn)?;
    Ok(())
}

pub fn events(
    conn: &mut DbConnection,
    id: i32,
    with_internal: bool,
) -> AppResult<Vec<GrievanceEvent>> {
    let mut q = grievance_events::table
        .filter(grievance_events::grievance_id.eq(id))
        .into_boxed();
    if !with_internal {
        q = q.filter(grievance_events::internal.eq(false));
    }
    // By time: an anonymous member's line (stamped with its day) stays at the start of its
    // day, never placed by the sequence between the cadres' lines stamped to the minute.
    Ok(q.order((
        grievance_events::created_at.asc(),
        grievance_events::id.asc(),
    ))
    .select(GrievanceEvent::as_select())
    .load(conn)?)
}

pub fn insert_attachment(
    conn: &mut DbConnection,
    owner_id: i32,
    filename: &str,
    content_type: &str,
    data: &[u8],
    at: NaiveDateTime,
) -> AppResult<()> {
    crate::attachments::insert(
        conn,
        ("grievance", owner_id),
        filename,
        content_type,
        data,
        at,
    )
}

pub fn attachments_of(conn: &mut DbConnection, id: i32) -> AppResult<Vec<AttachmentMeta>> {
    crate::attachments::list(conn, ("grievance", id))
}

/// The case's `position`-th file (1-based, in upload order). Cases address their files by
/// position, never by the attachments table's id: that sequence is shared with benefit
/// requests and news and would place an anonymous case in time.
pub fn attachment_data(
    conn: &mut DbConnection,
    id: i32,
    position: i32,
) -> AppResult<Option<(String, String, Vec<u8>)>> {
    use crate::db::schema::attachments as a;
    let Some(skip) = usize::try_from(position)
        .ok()
        .and_then(|p| p.checked_sub(1))
    else {
        return Ok(None);
    };
    let ids: Vec<i32> = a::table
        .filter(a::owner_type.eq("grievance"))
        .filter(a::owner_id.eq(id))
        .order(a::id.asc())
        .select(a::id)
        .load(conn)?;
    match ids.get(skip) {
        Some(aid) => crate::attachments::data(conn, ("grievance", id), *aid),
        None => Ok(None),
    }
}

pub fn for_member(conn: &mut DbConnection, member_id: i32) -> AppResult<Vec<Grievance>> {
    Ok(grievances::table
        .filter(grievances::member_id.eq(member_id))
        .order(grievances::id.desc())
        .select(Grievance::as_select())
        .load(conn)?)
}

/// Filters of the cadre list.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct CaseFilter {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub category: String,
    pub unit: Option<i32>,
    #[serde(default)]
    pub overdue: String,
    pub page: Option<i64>,
}

/// Cases a cadre may handle: in `unit_ids` (None: all) or assigned to `handler`.
pub fn search(
    conn: &mut DbConnection,
    unit_ids: Option<&[i32]>,
    handler: i32,
    filter: &CaseFilter,
    open_only: bool,
    now: NaiveDateTime,
    per_page: i64,
) -> AppResult<(Vec<Grievance>, Pager)> {
    let build = || {
        let mut q = grievances::table.into_boxed();
        if let Some(ids) = unit_ids {
            q = q.filter(
                grievances::unit_id
                    .eq_any(ids.to_vec())
                    .or(grievances::handler_id.eq(handler)),
            );
        }
        if open_only {
            q = q.filter(grievances::state.eq_any(OPEN_STATES));
        }
        if let Some(st) = State::parse(&filter.state) {
            q = q.filter(grievances::state.eq(st));
        }
        if CATEGORIES.iter().any(|(c, _)| *c == filter.category) {
            q = q.filter(grievances::category.eq(filter.category.clone()));
        }
        if let Some(u) = filter.unit {
            q = q.filter(grievances::unit_id.eq(u));
        }
        if filter.overdue == "1" {
            q = q.filter(
                grievances::overdue.eq(true).or(grievances::state
                    .eq_any(OPEN_STATES)
                    .and(grievances::due_at.lt(now))),
            );
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let pager = Pager::new(filter.page, per_page, total);
    let rows = build()
        // Overdue first, then the nearest deadline, then the oldest; by the filing time and the
        // random reference, never the sequence, which would place an anonymous case (stamped
        // with its day) between named ones.
        .order((
            grievances::overdue.desc(),
            grievances::due_at.asc(),
            grievances::created_at.asc(),
            grievances::public_ref.asc(),
        ))
        .limit(pager.per_page)
        .offset(pager.offset())
        .select(Grievance::as_select())
        .load(conn)?;
    Ok((rows, pager))
}

/// How many open cases a cadre may handle (the cadre home's figure): the cases of their units
/// plus those assigned to them elsewhere, as two counts, each on its own index (one `OR`
/// across two columns made SQLite scan every case).
pub fn open_count(
    conn: &mut DbConnection,
    unit_ids: Option<&[i32]>,
    handler: i32,
) -> AppResult<i64> {
    let open = grievances::table.filter(grievances::state.eq_any(OPEN_STATES));
    let Some(ids) = unit_ids else {
        return Ok(open.count().get_result(conn)?);
    };
    let mine: i64 = open
        .filter(grievances::unit_id.eq_any(ids))
        .count()
        .get_result(conn)?;
    let assigned: i64 = grievances::table
        .filter(grievances::state.eq_any(OPEN_STATES))
        .filter(grievances::handler_id.eq(handler))
        .filter(grievances::unit_id.ne_all(ids))
        .count()
        .get_result(conn)?;
    Ok(mine.saturating_add(assigned))
}

/// Open cases whose deadline has passed (for the escalation job).
pub fn past_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> AppResult<Vec<Grievance>> {
    Ok(grievances::table
        .filter(grievances::state.eq_any(OPEN_STATES))
        .filter(grievances::due_at.lt(now))
        .order(grievances::due_at.asc())
        .limit(limit)
        .select(Grievance::as_select())
        .load(conn)?)
}

/// Answered cases the member left unrated past `before` (closed by the job).
pub fn answered_before(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    limit: i64,
) -> AppResult<Vec<Grievance>> {
    Ok(grievances::table
        .filter(grievances::state.eq(State::Answered))
        .filter(grievances::answered_at.lt(before))
        .limit(limit)
        .select(Grievance::as_select())
        .load(conn)?)
}

/// Update columns that travel with a transition (after `workflow::apply` claimed the row).
pub fn set_fields(
    conn: &mut DbConnection,
    id: i32,
    changes: &GrievanceChanges<'_>,
) -> AppResult<()> {
    diesel::update(grievances::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = grievances)]
pub struct GrievanceChanges<'a> {
    pub unit_id: Option<i32>,
    pub handler_id: Option<Option<i32>>,
    pub overdue: Option<bool>,
    pub escalations: Option<i32>,
    pub resolution: Option<&'a str>,
    pub reject_reason: Option<&'a str>,
    pub rating: Option<i32>,
    pub rating_comment: Option<&'a str>,
    pub reopened: Option<bool>,
    pub answered_at: Option<NaiveDateTime>,
    pub updated_at: Option<NaiveDateTime>,
}
