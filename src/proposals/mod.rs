//! 职代会提案: a delegate drafts a proposal, other delegates co-sign (附议), it is submitted
//! within the session's window with enough co-signers, the proposals committee accepts it as
//! formal (立案), turns it into an opinion (转为意见建议), merges it with another (并案) or
//! rejects it; an accepted proposal is assigned to a lead department (and co-handling ones)
//! with a deadline on working days; a handler of the lead department answers with a grade;
//! the delegate rates the answer, and 不满意 sends it back once for a second answer. Every step
//! goes through the one transition path of `src/workflow/`.

pub mod actions;
pub mod admin;
pub mod demo;
pub mod model;
pub mod pages;

use chrono::NaiveDateTime;

use crate::audit::{Actor, AuditAction};
use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::outbox::{Kind, Out};
use crate::workflow::{self, By, Case, Flow, Line, Record, Transition};
use model::Proposal;

crate::text_enum! {
    /// Where a proposal stands. Stored in `proposals.state`.
    pub enum State {
        Draft = ("draft", "草稿（征集附议）"),
        Submitted = ("submitted", "待审查"),
        Accepted = ("accepted", "已立案待交办"),
        Assigned = ("assigned", "办理中"),
        Answered = ("answered", "已答复待评价"),
        Closed = ("closed", "已办结"),
        Converted = ("converted", "转为意见建议"),
        Merged = ("merged", "已并案"),
        Rejected = ("rejected", "不予立案"),
    }
}

crate::text_enum! {
    pub enum Action {
        Submit = ("submit", "提交"),
        Accept = ("accept", "立案"),
        Convert = ("convert", "转为意见建议"),
        Merge = ("merge", "并案"),
        Reject = ("reject", "不予立案"),
        Assign = ("assign", "交办"),
        Answer = ("answer", "答复"),
        Rate = ("rate", "评价"),
        Reopen = ("reopen", "不满意，再次办理"),
    }
}

crate::text_enum! {
    /// The handling department's grade of its answer.
    pub enum Grade {
        A = ("A", "A 已解决"),
        B = ("B", "B 正在解决或列入计划"),
        C = ("C", "C 因条件限制暂时无法解决"),
    }
}

crate::text_enum! {
    /// The delegate's rating of the answer.
    pub enum Rating {
        Satisfied = ("satisfied", "满意"),
        Basic = ("basic", "基本满意"),
        Unsatisfied = ("unsatisfied", "不满意"),
    }
}

pub static FLOW: Flow<State, Action> = Flow {
    table: "proposals",
    transitions: &[
        Transition {
            action: Action::Submit,
            from: &[State::Draft],
            to: State::Submitted,
        },
        Transition {
            action: Action::Accept,
            from: &[State::Submitted],
            to: State::Accepted,
        },
        Transition {
            action: Action::Convert,
            from: &[State::Submitted],
            to: State::Converted,
        },
        Transition {
            action: Action::Merge,
            from: &[State::Submitted],
            to: State::Merged,
        },
        Transition {
            action: Action::Reject,
            from: &[State::Submitted],
            to: State::Rejected,
        },
        Transition {
            action: Action::Assign,
            from: &[State::Accepted],
            to: State::Assigned,
        },
        Transition {
            action: Action::Answer,
            from: &[State::Assigned],
            to: State::Answered,
        },
        Transition {
            action: Action::Rate,
            from: &[State::Answered],
            to: State::Closed,
        },
        Transition {
            action: Action::Reopen,
            from: &[State::Answered],
            to: State::Assigned,
        },
    ],
};

/// Working days a department has to answer, and again after 不满意.
pub const ANSWER_WORKING_DAYS: u32 = 20;
pub const REANSWER_WORKING_DAYS: u32 = 10;
/// 不满意 sends an answer back this many times at most.
pub const MAX_ANSWERS: i32 = 2;

impl Case for Proposal {
    type State = State;
    type Action = Action;
    fn flow() -> &'static Flow<State, Action> {
        &FLOW
    }
    fn id(&self) -> i32 {
        self.id
    }
    fn state(&self) -> State {
        self.state
    }
    fn version(&self) -> i32 {
        self.version
    }
    fn unit_id(&self) -> i32 {
        0
    }
    fn audit_object(&self) -> (&'static str, String) {
        ("proposal", self.id.to_string())
    }
    fn timeline(
        &self,
        conn: &mut DbConnection,
        line: &Line<'_, State>,
        at: NaiveDateTime,
    ) -> AppResult<()> {
        model::insert_event(
            conn,
            self.id,
            line.kind,
            Some(self.state.as_str()),
            line.to.map(State::as_str),
            line.author,
            line.body,
            line.internal,
            at,
        )
    }
    fn outward(&self, kind: Kind) -> Out {
        Out::Full(kind)
    }
}

/// Who the user is for a proposal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Standing {
    pub author: bool,
    pub cosigner: bool,
    pub delegate: bool,
    pub committee: bool,
    /// A handler of one of its departments (lead or co-handling).
    pub handler: bool,
    pub lead_handler: bool,
}

impl Standing {
    /// Public once accepted (the board); drafts and submissions to its delegates and the
    /// committee; handlers see what is assigned to their departments.
    pub fn may_see(&self, state: State) -> bool {
        let public = matches!(
            state,
            State::Accepted | State::Assigned | State::Answered | State::Closed
        );
        public
            || self.author
            || self.cosigner
            || self.committee
            || self.handler
            || (self.delegate && matches!(state, State::Draft | State::Submitted))
    }
}

pub fn standing(conn: &mut DbConnection, user: &User, p: &Proposal) -> AppResult<Standing> {
    let handled = model::handled_by(conn, user.id)?;
    let deps = model::departments_of(conn, p.id)?;
    Ok(Standing {
        author: p.author_id == user.id,
        cosigner: model::cosigners(conn, p.id)?.contains(&user.id),
        delegate: model::is_delegate(conn, p.session_id, user.id)?,
        committee: user.is_admin || model::on_committee(conn, user.id)?,
        handler: deps.iter().any(|d| handled.contains(&d.0)),
        lead_handler: deps.iter().any(|d| d.2 && handled.contains(&d.0)),
    })
}

/// A proposal the user may see, with their standing; `NotFound` otherwise.
pub fn load_for(conn: &mut DbConnection, user: &User, id: i32) -> AppResult<(Proposal, Standing)> {
    let p = model::find(conn, id)?.ok_or(AppError::NotFound)?;
    let s = standing(conn, user, &p)?;
    if !s.may_see(p.state) {
        return Err(AppError::NotFound);
    }
    Ok((p, s))
}

/// What a delegate writes.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct DraftForm {
    #[serde(default)]
    pub session: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub measures: String,
    #[serde(default)]
    pub category: String,
}

pub const CATEGORIES: &[&str] = &[
    "生产经营",
    "劳动保护",
    "工资福利",
    "职工培训",
    "生活后勤",
    "民主管理",
    "其他",
];

/// Draft a proposal: only a delegate of the session.
pub fn draft(conn: &mut DbConnection, user: &User, actor: &Actor, f: &DraftForm) -> AppResult<i32> {
    let mut e = crate::forms::FieldErrors::default();
    let session: i32 = f.session.trim().parse().unwrap_or(0);
    let title = crate::text::clean(&f.title);
    let reason = crate::text::clean(&f.reason);
    let measures = crate::text::clean(&f.measures);
    if !(4..=60).contains(&title.chars().count()) {
        e.add("title", "标题请写 4 到 60 个字");
    }
    if !(10..=3000).contains(&reason.chars().count()) {
        e.add("reason", "案由请写 10 到 3000 个字");
    }
    if !(10..=3000).contains(&measures.chars().count()) {
        e.add("measures", "建议措施请写 10 到 3000 个字");
    }
    if !CATEGORIES.contains(&f.category.as_str()) {
        e.add("category", "请选择类别");
    }
    if !e.is_empty() {
        return Err(AppError::Fields(e));
    }
    write_tx(conn, |conn| {
        let s = model::session(conn, session)?
            .ok_or_else(|| AppError::field("session", "请选择职代会"))?;
        if actor.now >= s.closes_at {
            return Err(AppError::field(
                "session",
                format!(
                    "本次职代会的提案征集已于 {} 截止",
                    crate::time::beijing(&s.closes_at, "%Y-%m-%d")
                ),
            ));
        }
        if !model::is_delegate(conn, session, user.id)? {
            return Err(AppError::Refused(
                "只有本次职代会的代表才能提出提案。".into(),
            ));
        }
        let id = model::insert_proposal(
            conn,
            session,
            user.id,
            &title,
            &reason,
            &measures,
            &f.category,
            actor.now,
        )?;
        model::insert_event(
            conn,
            id,
            "state",
            None,
            Some(State::Draft.as_str()),
            (Some(user.id), &user.name),
            "起草提案",
            false,
            actor.now,
        )?;
        crate::audit::record(
            conn,
            actor,
            None,
            AuditAction::ProposalDraft,
            ("proposal", Some(id)),
            &title,
        )?;
        Ok(id)
    })
}

/// Co-sign (附议) a draft: another delegate of the same session, once.
pub fn cosign(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    version: i32,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let (p, s) = load_for(conn, user, id)?;
        if p.state != State::Draft || s.author || !s.delegate {
            return Err(AppError::Refused(
                "只有本次职代会的其他代表可以附议草稿状态的提案。".into(),
            ));
        }
        if p.version != version {
            return Err(AppError::Conflict(workflow::CONFLICT.into()));
        }
        if !model::cosign(conn, p.id, user.id, actor.now)? {
            return Err(AppError::Validation("您已经附议过了".into()));
        }
        let by = By {
            actor,
            label: &user.name,
            anonymous: false,
        };
        let rec = Record {
            kind: "cosign",
            notify: vec![(
                p.author_id,
                format!("{}附议了您的提案“{}”", user.name, p.title),
                format!("/proposals/{}", p.id),
            )],
            ..Record::new(AuditAction::ProposalCosign)
        };
        workflow::touch(conn, &p, &by, &rec)
    })
}

pub use actions::{act, Step};

/// The author and the co-signers.
fn people(conn: &mut DbConnection, p: &Proposal) -> AppResult<Vec<i32>> {
    let mut v = vec![p.author_id];
    v.extend(model::cosigners(conn, p.id)?);
    Ok(v)
}

/// The deadline job: an answer past its deadline is marked overdue (once), gets a timeline
/// line, and the committee and the union's chairs are told, as overdue grievances escalate.
pub fn run_deadlines(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    let due = model::overdue(conn, &[State::Assigned], now)?;
    let mut marked = 0usize;
    for p in &due {
        // A handler answering meanwhile wins (`touch` conflicts): skip it, go on.
        let r = write_tx(conn, |conn| {
            let actor = Actor::system("办理时限", now);
            let by = By {
                actor: &actor,
                label: "系统",
                anonymous: false,
            };
            let mut notify: Vec<(i32, String, String)> = model::committee(conn)?
                .into_iter()
                .map(|m| {
                    (
                        m,
                        format!("提案答复超期：{}", p.title),
                        format!("/proposals/{}", p.id),
                    )
                })
                .collect();
            if let Some(root) = crate::org::model::all(conn)?
                .into_iter()
                .find(|u| u.parent_id.is_none())
            {
                for c in crate::org::model::role_holders(
                    conn,
                    crate::db::ids::UnitId(root.id),
                    &[crate::org::Role::Chair],
                )? {
                    notify.push((
                        c.0,
                        format!("提案答复超期：{}", p.title),
                        format!("/proposals/{}", p.id),
                    ));
                }
            }
            let rec = Record {
                kind: "overdue",
                body: "承办部门未在时限内答复，已报工会督办。",
                notify,
                ..Record::new(AuditAction::ProposalOverdue)
            };
            workflow::touch(conn, p, &by, &rec)?;
            model::set(
                conn,
                p.id,
                &model::Changes {
                    overdue: Some(true),
                    ..Default::default()
                },
            )
        });
        match r {
            Ok(()) => marked = marked.saturating_add(1),
            Err(AppError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(marked)
}

/// One accepted proposal as the compilation (汇编) lists it.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub p: Proposal,
    pub author: String,
    pub cosigners: Vec<String>,
    pub lead: String,
    pub co: Vec<String>,
}

impl Compiled {
    pub fn grade_label(&self) -> &str {
        self.p
            .grade
            .as_deref()
            .and_then(Grade::parse)
            .map_or("", Grade::label)
    }
    pub fn rating_label(&self) -> &str {
        self.p
            .rating
            .as_deref()
            .and_then(Rating::parse)
            .map_or("", Rating::label)
    }
}

/// Satisfaction with one lead department's answers.
#[derive(Debug, Clone, Default)]
pub struct DepartmentFigures {
    pub department: String,
    pub proposals: usize,
    pub satisfied: usize,
    pub basic: usize,
    pub unsatisfied: usize,
}

impl DepartmentFigures {
    /// 满意 and 基本满意 of those rated.
    pub fn rate(&self) -> String {
        let rated = self
            .satisfied
            .saturating_add(self.basic)
            .saturating_add(self.unsatisfied);
        if rated == 0 {
            "—".into()
        } else {
            format!(
                "{:.0}%",
                (self.satisfied.saturating_add(self.basic)) as f64 * 100.0 / rated as f64
            )
        }
    }
}

/// The session's accepted proposals (立案 and after), oldest first, and satisfaction by lead
/// department. Review notes are not part of it.
pub fn compile(
    conn: &mut DbConnection,
    session: i32,
) -> AppResult<(Vec<Compiled>, Vec<DepartmentFigures>)> {
    let mut list = model::of_session(
        conn,
        session,
        &[
            State::Accepted,
            State::Assigned,
            State::Answered,
            State::Closed,
        ],
    )?;
    list.reverse();
    let mut out = Vec::with_capacity(list.len());
    let mut figures: Vec<DepartmentFigures> = Vec::new();
    for p in list {
        let name = |conn: &mut DbConnection, id: i32| -> AppResult<String> {
            Ok(crate::members::model::find(conn, id)?
                .map(|m| m.name)
                .unwrap_or_default())
        };
        let author = name(conn, p.author_id)?;
        let mut cosigners = Vec::new();
        for m in model::cosigners(conn, p.id)? {
            cosigners.push(name(conn, m)?);
        }
        let deps = model::departments_of(conn, p.id)?;
        let lead = deps
            .iter()
            .find(|d| d.2)
            .map(|d| d.1.clone())
            .unwrap_or_default();
        let co = deps.iter().filter(|d| !d.2).map(|d| d.1.clone()).collect();
        if !lead.is_empty() {
            let i = match figures.iter().position(|f| f.department == lead) {
                Some(i) => i,
                None => {
                    figures.push(DepartmentFigures {
                        department: lead.clone(),
                        ..Default::default()
                    });
                    figures.len().saturating_sub(1)
                }
            };
            if let Some(f) = figures.get_mut(i) {
                f.proposals = f.proposals.saturating_add(1);
                if p.state == State::Closed {
                    match p.rating.as_deref().and_then(Rating::parse) {
                        Some(Rating::Satisfied) => f.satisfied = f.satisfied.saturating_add(1),
                        Some(Rating::Basic) => f.basic = f.basic.saturating_add(1),
                        Some(Rating::Unsatisfied) => {
                            f.unsatisfied = f.unsatisfied.saturating_add(1)
                        }
                        None => {}
                    }
                }
            }
        }
        out.push(Compiled {
            p,
            author,
            cosigners,
            lead,
            co,
        });
    }
    Ok((out, figures))
}

/// The compilation as an XLSX workbook: the proposals, and satisfaction by department.
pub fn compiled_xlsx(
    session: &str,
    rows: &[Compiled],
    figures: &[DepartmentFigures],
) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name("提案汇编").map_err(err)?;
    ws.write_string_with_format(0, 0, session, &bold)
        .map_err(err)?;
    let head = [
        "编号",
        "标题",
        "提案人",
        "附议人",
        "类别",
        "主办部门",
        "协办部门",
        "状态",
        "办理结果",
        "答复",
        "代表评价",
    ];
    for (c, h) in head.iter().enumerate() {
        ws.write_string_with_format(1, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = (i as u32).saturating_add(2);
        ws.write_number(row, 0, f64::from(r.p.id)).map_err(err)?;
        ws.write_string(row, 1, &r.p.title).map_err(err)?;
        ws.write_string(row, 2, &r.author).map_err(err)?;
        ws.write_string(row, 3, r.cosigners.join("、"))
            .map_err(err)?;
        ws.write_string(row, 4, &r.p.category).map_err(err)?;
        ws.write_string(row, 5, &r.lead).map_err(err)?;
        ws.write_string(row, 6, r.co.join("、")).map_err(err)?;
        ws.write_string(row, 7, r.p.state.label()).map_err(err)?;
        ws.write_string(row, 8, r.grade_label()).map_err(err)?;
        ws.write_string(row, 9, r.p.answer.as_deref().unwrap_or(""))
            .map_err(err)?;
        ws.write_string(row, 10, r.rating_label()).map_err(err)?;
    }
    let ws = wb.add_worksheet();
    ws.set_name("部门满意度").map_err(err)?;
    for (c, h) in ["主办部门", "提案数", "满意", "基本满意", "不满意", "满意率"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (i, f) in figures.iter().enumerate() {
        let row = (i as u32).saturating_add(1);
        ws.write_string(row, 0, &f.department).map_err(err)?;
        ws.write_number(row, 1, f.proposals as f64).map_err(err)?;
        ws.write_number(row, 2, f.satisfied as f64).map_err(err)?;
        ws.write_number(row, 3, f.basic as f64).map_err(err)?;
        ws.write_number(row, 4, f.unsatisfied as f64).map_err(err)?;
        ws.write_string(row, 5, f.rate()).map_err(err)?;
    }
    wb.save_to_buffer().map_err(err)
}
