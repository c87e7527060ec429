//! Benefit catalogue items, requests, their timeline and budgets, and the queries over them.

use crate::db::ids::{MemberId, RequestId};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    benefit_approvals, benefit_events, benefit_items, benefit_requests, budgets,
};
use crate::db::DbConnection;
use crate::error::AppResult;

pub const CATEGORIES: &[(&str, &str)] = &[("greeting", "慰问"), ("aid", "帮扶"), ("perk", "普惠")];

crate::text_enum! {
    /// Where a benefit request stands. Stored as its code in `benefit_requests.state`.
    pub enum State {
        Submitted = ("submitted", "审批中"),
        Returned = ("returned", "待补充材料"),
        Approved = ("approved", "已批准待发放"),
        Paid = ("paid", "已发放"),
        Rejected = ("rejected", "未通过"),
        Withdrawn = ("withdrawn", "已撤回"),
    }
}

crate::text_enum! {
    /// What an approver, the applicant or finance does to a request.
    pub enum Action {
        /// An approver passes the request to the next step of the chain.
        Advance = ("advance", "同意并转下一步"),
        Approve = ("approve", "批准"),
        Reject = ("reject", "不批准"),
        Return = ("return", "退回补充材料"),
        Resubmit = ("resubmit", "重新提交"),
        Withdraw = ("withdraw", "撤回"),
        Pay = ("pay", "发放"),
    }
}

crate::text_enum! {
    /// How an item's amount works: exactly the item's amount, or up to it.
    pub enum AmountMode {
        Fixed = ("fixed", "固定金额"),
        Max = ("max", "不超过"),
    }
}

crate::text_enum! {
    /// How often a member may receive an item.
    pub enum Frequency {
        Yearly = ("yearly", "每人每年一次"),
        /// Once per event (the same illness once a year).
        PerEvent = ("per_event", "每件事一次（同一事由每年一次）"),
        Unlimited = ("unlimited", "不限次数"),
    }
}

/// States that count against a frequency limit.
pub const LIVE_STATES: &[State] = &[
    State::Submitted,
    State::Returned,
    State::Approved,
    State::Paid,
];

/// States that draw on a budget.
pub const COMMITTED_STATES: &[State] = &[State::Approved, State::Paid];

pub fn category_label(c: &str) -> &str {
    CATEGORIES
        .iter()
        .find(|(k, _)| *k == c)
        .map_or(c, |(_, l)| l)
}

/// The label of a stored state code (timeline rows keep codes as text).
pub fn state_label(s: &str) -> &str {
    match State::parse(s) {
        Some(st) => st.label(),
        None => s,
    }
}

/// "1234.50" from fen.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let f = fen.unsigned_abs();
    format!("{sign}{}.{:02}", f / 100, f % 100)
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = benefit_items)]
pub struct BenefitItem {
    pub id: i32,
    pub name: String,
    pub category: String,
    pub description: String,
    pub amount_mode: AmountMode,
    pub amount_fen: i64,
    pub frequency: Frequency,
    pub required_fields: String,
    pub required_attachments: String,
    pub unit_id: Option<i32>,
    pub steps: String,
    pub extra_step_above_fen: Option<i64>,
    pub extra_step_role: Option<String>,
    pub sensitive: bool,
    pub active: bool,
    pub active_from: Option<NaiveDateTime>,
    pub active_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

impl BenefitItem {
    pub fn category_label(&self) -> &str {
        category_label(&self.category)
    }
    pub fn fields(&self) -> Vec<String> {
        lines(&self.required_fields)
    }
    pub fn attachments(&self) -> Vec<String> {
        lines(&self.required_attachments)
    }
    pub fn is_fixed(&self) -> bool {
        self.amount_mode == AmountMode::Fixed
    }
    pub fn amount_label(&self) -> String {
        if self.is_fixed() {
            format!("{} 元", yuan(self.amount_fen))
        } else {
            format!("最高 {} 元", yuan(self.amount_fen))
        }
    }
    pub fn frequency_label(&self) -> &'static str {
        self.frequency.label()
    }
    pub fn per_event(&self) -> bool {
        self.frequency == Frequency::PerEvent
    }
    /// The approval chain for an amount: the item's steps, plus the extra step above its threshold.
    pub fn chain_for(&self, amount_fen: i64) -> Vec<String> {
        let mut steps: Vec<String> = self
            .steps
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if let (Some(limit), Some(role)) = (self.extra_step_above_fen, &self.extra_step_role) {
            if amount_fen > limit {
                steps.push(role.clone());
            }
        }
        steps
    }
}

#[derive(Insertable)]
#[diesel(table_name = benefit_items)]
pub struct NewBenefitItem<'a> {
    pub name: &'a str,
    pub category: &'a str,
    pub description: &'a str,
    pub amount_mode: AmountMode,
    pub amount_fen: i64,
    pub frequency: Frequency,
    pub required_fields: &'a str,
    pub required_attachments: &'a str,
    pub unit_id: Option<i32>,
    pub steps: &'a str,
    pub extra_step_above_fen: Option<i64>,
    pub extra_step_role: Option<&'a str>,
    pub sensitive: bool,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = benefit_requests)]
pub struct BenefitRequest {
    pub id: i32,
    pub item_id: i32,
    pub member_id: i32,
    pub unit_id: i32,
    pub year: i32,
    pub amount_fen: i64,
    pub event_key: String,
    pub details: String,
    pub steps: String,
    pub step: i32,
    pub state: State,
    pub version: i32,
    pub due_at: Option<NaiveDateTime>,
    pub budget_id: Option<i32>,
    pub reject_reason: Option<String>,
    pub paid_ref: Option<String>,
    pub paid_at: Option<NaiveDateTime>,
    pub approved_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl BenefitRequest {
    pub fn state_label(&self) -> &str {
        self.state.label()
    }
    pub fn amount_yuan(&self) -> String {
        yuan(self.amount_fen)
    }
    pub fn chain(&self) -> Vec<String> {
        self.steps
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
    /// Sent back to the applicant for more material.
    pub fn is_returned(&self) -> bool {
        self.state == State::Returned
    }
    /// Waiting for an approver.
    pub fn is_submitted(&self) -> bool {
        self.state == State::Submitted
    }
    /// The applicant may withdraw before the first decision, or while returned. One rule for
    /// the page (whether to offer it) and the action.
    pub fn may_withdraw(&self) -> bool {
        self.is_returned() || (self.is_submitted() && self.step == 0)
    }
    /// Approved or paid: every step of the chain is done.
    pub fn is_approved(&self) -> bool {
        COMMITTED_STATES.contains(&self.state)
    }
    /// The role of the step awaiting a decision, while submitted.
    pub fn current_role(&self) -> Option<crate::org::Role> {
        (self.state == State::Submitted)
            .then(|| self.chain().get(self.step as usize).cloned())
            .flatten()
            .and_then(|code| crate::org::Role::parse(&code))
    }
    /// (label, value) pairs the member filled in.
    pub fn detail_pairs(&self) -> Vec<(String, String)> {
        self.details
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| (k.to_string(), v.replace("\\n", "\n")))
            .collect()
    }
    pub fn filed_on(&self) -> String {
        crate::time::date_of(&self.created_at)
    }
}

#[derive(Insertable)]
#[diesel(table_name = benefit_requests)]
pub struct NewBenefitRequest<'a> {
    pub item_id: i32,
    pub member_id: i32,
    pub unit_id: i32,
    pub year: i32,
    pub amount_fen: i64,
    pub event_key: &'a str,
    pub details: &'a str,
    pub steps: &'a str,
    pub step: i32,
    pub state: State,
    pub version: i32,
    pub submit_token: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = benefit_events)]
pub struct BenefitEvent {
    pub id: i32,
    pub kind: String,
    pub to_state: Option<String>,
    pub author_label: String,
    pub body: String,
    pub created_at: NaiveDateTime,
}

impl BenefitEvent {
    pub fn when(&self) -> String {
        crate::time::beijing(&self.created_at, "%Y-%m-%d %H:%M")
    }
    pub fn headline(&self) -> String {
        match (self.kind.as_str(), self.to_state.as_deref()) {
            ("approve_step", _) => format!("{} 审批通过（进入下一步）", self.author_label),
            (_, Some(s)) => format!("{} · {}", self.author_label, state_label(s)),
            _ => self.author_label.clone(),
        }
    }
}

pub fn items(conn: &mut DbConnection) -> AppResult<Vec<BenefitItem>> {
    Ok(benefit_items::table
        .order(benefit_items::id.asc())
        .select(BenefitItem::as_select())
        .load(conn)?)
}

pub fn item(conn: &mut DbConnection, id: i32) -> AppResult<Option<BenefitItem>> {
    Ok(benefit_items::table
        .find(id)
        .select(BenefitItem::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert_item(conn: &mut DbConnection, new: &NewBenefitItem<'_>) -> AppResult<i32> {
    Ok(diesel::insert_into(benefit_items::table)
        .values(new)
        .returning(benefit_items::id)
        .get_result(conn)?)
}

pub fn set_item_active(conn: &mut DbConnection, id: i32, active: bool) -> AppResult<usize> {
    Ok(diesel::update(benefit_items::table.find(id))
        .set(benefit_items::active.eq(active))
        .execute(conn)?)
}

pub fn request(conn: &mut DbConnection, id: i32) -> AppResult<Option<BenefitRequest>> {
    Ok(benefit_requests::table
        .find(id)
        .select(BenefitRequest::as_select())
        .first(conn)
        .optional()?)
}

pub fn request_by_token(conn: &mut DbConnection, token: &str) -> AppResult<Option<i32>> {
    Ok(benefit_requests::table
        .filter(benefit_requests::submit_token.eq(token))
        .select(benefit_requests::id)
        .first(conn)
        .optional()?)
}

pub fn insert_request(conn: &mut DbConnection, new: &NewBenefitRequest<'_>) -> AppResult<i32> {
    Ok(diesel::insert_into(benefit_requests::table)
        .values(new)
        .returning(benefit_requests::id)
        .get_result(conn)?)
}

pub fn requests_of(conn: &mut DbConnection, member_id: i32) -> AppResult<Vec<BenefitRequest>> {
    Ok(benefit_requests::table
        .filter(benefit_requests::member_id.eq(member_id))
        .order(benefit_requests::id.desc())
        .select(BenefitRequest::as_select())
        .load(conn)?)
}

/// Live requests of a member for an item in a year (and event, for per-event items).
pub fn live_count(
    conn: &mut DbConnection,
    member_id: i32,
    item_id: i32,
    year: i32,
    event: Option<&str>,
) -> AppResult<i64> {
    let mut q = benefit_requests::table
        .filter(benefit_requests::member_id.eq(member_id))
        .filter(benefit_requests::item_id.eq(item_id))
        .filter(benefit_requests::year.eq(year))
        .filter(benefit_requests::state.eq_any(LIVE_STATES))
        .into_boxed();
    if let Some(e) = event {
        q = q.filter(benefit_requests::event_key.eq(e.to_string()));
    }
    Ok(q.count().get_result(conn)?)
}

/// Requests in the given units (None: all), optionally in one state, newest first: `limit`
/// from `offset`.
pub fn in_units(
    conn: &mut DbConnection,
    unit_ids: Option<&[i32]>,
    state: Option<State>,
    (limit, offset): (i64, i64),
) -> AppResult<Vec<BenefitRequest>> {
    let mut q = benefit_requests::table.into_boxed();
    if let Some(ids) = unit_ids {
        q = q.filter(benefit_requests::unit_id.eq_any(ids.to_vec()));
    }
    if let Some(s) = state {
        q = q.filter(benefit_requests::state.eq(s));
    }
    Ok(q.order(benefit_requests::id.desc())
        .limit(limit)
        .offset(offset)
        .select(BenefitRequest::as_select())
        .load(conn)?)
}

/// How many requests `in_units` would list without a limit.
pub fn count_in_units(
    conn: &mut DbConnection,
    unit_ids: Option<&[i32]>,
    state: Option<State>,
) -> AppResult<i64> {
    let mut q = benefit_requests::table.into_boxed();
    if let Some(ids) = unit_ids {
        q = q.filter(benefit_requests::unit_id.eq_any(ids.to_vec()));
    }
    if let Some(s) = state {
        q = q.filter(benefit_requests::state.eq(s));
    }
    Ok(q.count().get_result(conn)?)
}

/// The approval chains of the requests waiting for a decision (a handful of distinct strings).
pub fn submitted_chains(conn: &mut DbConnection) -> AppResult<Vec<String>> {
    Ok(benefit_requests::table
        .filter(benefit_requests::state.eq(State::Submitted))
        .select(benefit_requests::steps)
        .distinct()
        .load(conn)?)
}

/// Where a request waits for one of the approver's roles: at one of `steps` (chain, index in
/// it), in one of `units` (where the approver holds that role).
#[derive(Debug, Clone)]
pub struct Slot {
    pub units: Vec<i32>,
    pub steps: Vec<(String, i32)>,
}

/// Submitted requests waiting at one of `slots`, not filed by `member_id` and with no earlier
/// step approved by them, newest first. All of it in SQL before the cap, so requests waiting
/// for someone else never push these out.
pub fn awaiting(
    conn: &mut DbConnection,
    slots: &[Slot],
    member_id: i32,
    limit: i64,
) -> AppResult<Vec<BenefitRequest>> {
    use crate::db::MultiBackend;
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;
    type Cond = Box<dyn BoxableExpression<benefit_requests::table, MultiBackend, SqlType = Bool>>;
    if slots.is_empty() {
        return Ok(Vec::new());
    }
    let mut at: Cond = Box::new(sql::<Bool>("1 = 0"));
    for s in slots {
        let mut steps: Cond = Box::new(sql::<Bool>("1 = 0"));
        for (chain, step) in &s.steps {
            steps = Box::new(
                steps.or(benefit_requests::steps
                    .eq(chain.clone())
                    .and(benefit_requests::step.eq(*step))),
            );
        }
        at = Box::new(at.or(benefit_requests::unit_id.eq_any(s.units.clone()).and(steps)));
    }
    Ok(benefit_requests::table
        .filter(benefit_requests::state.eq(State::Submitted))
        .filter(benefit_requests::member_id.ne(member_id))
        .filter(diesel::dsl::not(
            benefit_requests::id.eq_any(
                benefit_approvals::table
                    .filter(benefit_approvals::member_id.eq(member_id))
                    .select(benefit_approvals::request_id),
            ),
        ))
        .into_boxed()
        .filter(at)
        .order(benefit_requests::id.desc())
        .limit(limit)
        .select(BenefitRequest::as_select())
        .load(conn)?)
}

pub fn insert_event(
    conn: &mut DbConnection,
    request_id: i32,
    kind: &str,
    to_state: Option<State>,
    author: (Option<i32>, &str),
    body: &str,
    at: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(benefit_events::table)
        .values((
            benefit_events::request_id.eq(request_id),
            benefit_events::kind.eq(kind),
            benefit_events::to_state.eq(to_state.map(State::as_str)),
            benefit_events::author_id.eq(author.0),
            benefit_events::author_label.eq(author.1),
            benefit_events::body.eq(body),
            benefit_events::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn events(conn: &mut DbConnection, request_id: i32) -> AppResult<Vec<BenefitEvent>> {
    Ok(benefit_events::table
        .filter(benefit_events::request_id.eq(request_id))
        .order(benefit_events::id.asc())
        .select(BenefitEvent::as_select())
        .load(conn)?)
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = budgets)]
pub struct Budget {
    pub id: i32,
    pub unit_id: i32,
    pub year: i32,
    pub category: String,
    pub planned_fen: i64,
}

/// The budget a request draws on: the nearest unit, from the member's unit upward, that has one
/// for this year and category.
pub fn budget_for(
    conn: &mut DbConnection,
    unit_path: &str,
    year: i32,
    category: &str,
) -> AppResult<Option<Budget>> {
    let ids: Vec<i32> = unit_path
        .split('/')
        .filter_map(|s| s.parse().ok())
        .collect();
    let found: Vec<Budget> = budgets::table
        .filter(budgets::unit_id.eq_any(ids.clone()))
        .filter(budgets::year.eq(year))
        .filter(budgets::category.eq(category))
        .select(Budget::as_select())
        .load(conn)?;
    Ok(ids
        .iter()
        .rev()
        .find_map(|id| found.iter().find(|b| b.unit_id == *id).cloned()))
}

pub fn budgets_in(
    conn: &mut DbConnection,
    unit_ids: Option<&[i32]>,
    year: i32,
) -> AppResult<Vec<Budget>> {
    let mut q = budgets::table.filter(budgets::year.eq(year)).into_boxed();
    if let Some(ids) = unit_ids {
        q = q.filter(budgets::unit_id.eq_any(ids.to_vec()));
    }
    Ok(q.order((budgets::unit_id.asc(), budgets::category.asc()))
        .select(Budget::as_select())
        .load(conn)?)
}

/// (committed, paid) in fen drawn on a budget: approved-or-paid, and paid.
pub fn budget_use(conn: &mut DbConnection, budget_id: i32) -> AppResult<(i64, i64)> {
    let rows: Vec<(State, i64)> = benefit_requests::table
        .filter(benefit_requests::budget_id.eq(budget_id))
        .filter(benefit_requests::state.eq_any(COMMITTED_STATES))
        .select((benefit_requests::state, benefit_requests::amount_fen))
        .load(conn)?;
    let committed = rows.iter().map(|(_, a)| a).sum();
    let paid = rows
        .iter()
        .filter(|(s, _)| *s == State::Paid)
        .map(|(_, a)| a)
        .sum();
    Ok((committed, paid))
}

/// Set a budget (update, or insert when missing).
pub fn set_budget(
    conn: &mut DbConnection,
    unit_id: i32,
    year: i32,
    category: &str,
    planned_fen: i64,
    now: NaiveDateTime,
) -> AppResult<()> {
    let n = diesel::update(
        budgets::table
            .filter(budgets::unit_id.eq(unit_id))
            .filter(budgets::year.eq(year))
            .filter(budgets::category.eq(category)),
    )
    .set((
        budgets::planned_fen.eq(planned_fen),
        budgets::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        diesel::insert_into(budgets::table)
            .values((
                budgets::unit_id.eq(unit_id),
                budgets::year.eq(year),
                budgets::category.eq(category),
                budgets::planned_fen.eq(planned_fen),
                budgets::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Who approved the steps of request `id` so far, in step order.
pub fn approver_ids(conn: &mut DbConnection, id: RequestId) -> AppResult<Vec<MemberId>> {
    Ok(benefit_approvals::table
        .filter(benefit_approvals::request_id.eq(id))
        .order(benefit_approvals::step.asc())
        .select(benefit_approvals::member_id)
        .load(conn)?)
}

/// The approvers of several requests at once: (request id, member id) pairs.
pub fn approvers_of(conn: &mut DbConnection, ids: &[i32]) -> AppResult<Vec<(i32, MemberId)>> {
    let mut out = Vec::new();
    // Bind lists stay well under every backend's parameter limit.
    for chunk in ids.chunks(500) {
        out.extend(
            benefit_approvals::table
                .filter(benefit_approvals::request_id.eq_any(chunk))
                .select((benefit_approvals::request_id, benefit_approvals::member_id))
                .load::<(i32, MemberId)>(conn)?,
        );
    }
    Ok(out)
}

/// Record that `member` approved `step` (counted from 1) of request `id`. The key on
/// (request, step) refuses a second approval of the same step.
pub fn add_approval(
    conn: &mut DbConnection,
    id: RequestId,
    step: i32,
    member: MemberId,
) -> AppResult<()> {
    diesel::insert_into(benefit_approvals::table)
        .values((
            benefit_approvals::request_id.eq(id),
            benefit_approvals::step.eq(step),
            benefit_approvals::member_id.eq(member),
        ))
        .execute(conn)?;
    Ok(())
}

/// The chain starts again (a request returned for more material).
pub fn clear_approvals(conn: &mut DbConnection, id: RequestId) -> AppResult<()> {
    diesel::delete(benefit_approvals::table.filter(benefit_approvals::request_id.eq(id)))
        .execute(conn)?;
    Ok(())
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = benefit_requests)]
pub struct RequestChanges<'a> {
    /// A member's transfer hands the request to their new unit.
    pub unit_id: Option<i32>,
    pub step: Option<i32>,
    pub budget_id: Option<Option<i32>>,
    pub reject_reason: Option<&'a str>,
    pub paid_ref: Option<&'a str>,
    pub paid_at: Option<NaiveDateTime>,
    pub approved_at: Option<NaiveDateTime>,
    pub amount_fen: Option<i64>,
    pub details: Option<&'a str>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn set_fields(conn: &mut DbConnection, id: i32, c: &RequestChanges<'_>) -> AppResult<()> {
    diesel::update(benefit_requests::table.find(id))
        .set(c)
        .execute(conn)?;
    Ok(())
}

pub fn set_item_period(
    conn: &mut DbConnection,
    id: i32,
    from: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
) -> AppResult<()> {
    diesel::update(benefit_items::table.find(id))
        .set((
            benefit_items::active_from.eq(from),
            benefit_items::active_until.eq(until),
        ))
        .execute(conn)?;
    Ok(())
}
