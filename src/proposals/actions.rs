//! The steps of a proposal, one small function each, all on the one transition path
//! (`workflow::transition`/`touch`: guarded update, timeline line, audit row, notifications);
//! `act` checks the version and dispatches.

use super::model;
use super::{
    load_for, people, Action, Grade, Proposal, Rating, Standing, State, ANSWER_WORKING_DAYS,
    MAX_ANSWERS, REANSWER_WORKING_DAYS,
};
use crate::audit::{Actor, AuditAction};
use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::workflow::{self, By, Record};

/// A step by the author, the committee or a handler, on the proposal they saw at `version`.
#[derive(Debug, Clone)]
pub enum Step {
    Submit,
    Accept { note: String },
    Convert { note: String },
    Merge { into: i32, note: String },
    Reject { note: String },
    Assign { lead: i32, co: Vec<i32> },
    Answer { grade: Grade, text: String },
    Rate { rating: Rating },
}

/// What every step works on: the proposal as seen, the user's standing, who acts.
struct On<'a> {
    p: &'a Proposal,
    s: &'a Standing,
    by: &'a By<'a>,
    actor: &'a Actor,
    link: String,
}

/// One step; NotFound unless the user may see the proposal, Conflict if it changed meanwhile.
pub fn act(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    version: i32,
    step: &Step,
) -> AppResult<State> {
    write_tx(conn, |conn| {
        let (p, s) = load_for(conn, user, id)?;
        if p.version != version {
            return Err(AppError::Conflict(workflow::CONFLICT.into()));
        }
        let by = By {
            actor,
            label: &user.name,
            anonymous: false,
        };
        let on = On {
            p: &p,
            s: &s,
            by: &by,
            actor,
            link: format!("/proposals/{}", p.id),
        };
        match step {
            Step::Submit => submit(conn, &on),
            Step::Accept { note } => review(conn, &on, Action::Accept, note),
            Step::Convert { note } => review(conn, &on, Action::Convert, note),
            Step::Reject { note } => review(conn, &on, Action::Reject, note),
            Step::Merge { into, note } => merge(conn, &on, *into, note),
            Step::Assign { lead, co } => assign(conn, &on, *lead, co),
            Step::Answer { grade, text } => answer(conn, &on, *grade, text),
            Step::Rate { rating } => rate(conn, &on, *rating),
        }
    })
}

fn committee_only(s: &Standing) -> AppResult<()> {
    if s.committee {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// A reason for a decision: 2 to 1000 characters.
fn note_of(n: &str) -> AppResult<String> {
    let n = crate::text::clean(n);
    if !(2..=1000).contains(&n.chars().count()) {
        return Err(AppError::field("note", "请写明理由（1000 字以内）"));
    }
    Ok(n)
}

fn submit(conn: &mut DbConnection, on: &On<'_>) -> AppResult<State> {
    let (p, s, by, actor, link) = (on.p, on.s, on.by, on.actor, &on.link);
    if !s.author {
        return Err(AppError::Forbidden);
    }
    let session = model::session(conn, p.session_id)?.ok_or(AppError::NotFound)?;
    if !session.open_at(actor.now) {
        return Err(AppError::Validation(format!(
            "不在提案征集期内（{}）",
            session.window()
        )));
    }
    let n = model::cosigners(conn, p.id)?.len();
    if (n as i64) < i64::from(session.min_cosigners) {
        return Err(AppError::Validation(format!(
            "提案需要至少 {} 名代表附议才能提交（现有 {n} 名）",
            session.min_cosigners
        )));
    }
    let notify = model::committee(conn)?
        .into_iter()
        .map(|m| (m, format!("新提案待审查：{}", p.title), link.to_string()))
        .collect();
    let rec = Record {
        notify,
        ..Record::new(AuditAction::ProposalSubmit)
    };
    let to = workflow::transition(conn, p, Action::Submit, None, by, &rec)?;
    model::set(
        conn,
        p.id,
        &model::Changes {
            submitted_at: Some(Some(actor.now)),
            ..Default::default()
        },
    )?;
    Ok(to)
}

fn review(conn: &mut DbConnection, on: &On<'_>, action: Action, note: &str) -> AppResult<State> {
    let (p, s, by, link) = (on.p, on.s, on.by, &on.link);
    committee_only(s)?;
    let audit = match action {
        Action::Accept => AuditAction::ProposalAccept,
        Action::Convert => AuditAction::ProposalConvert,
        _ => AuditAction::ProposalReject,
    };
    let note = if action == Action::Accept {
        crate::text::clean(note)
    } else {
        note_of(note)?
    };
    // Review notes are the committee's (the writer reads the decision on the page).
    let rec = Record {
        body: &note,
        internal: true,
        notify: people(conn, p)?
            .into_iter()
            .map(|m| {
                (
                    m,
                    format!("提案“{}”：{}", p.title, action.label()),
                    link.to_string(),
                )
            })
            .collect(),
        ..Record::new(audit)
    };
    let to = workflow::transition(conn, p, action, None, by, &rec)?;
    model::set(
        conn,
        p.id,
        &model::Changes {
            decision_note: Some(Some(&note)),
            ..Default::default()
        },
    )?;
    Ok(to)
}

fn merge(conn: &mut DbConnection, on: &On<'_>, into: i32, note: &str) -> AppResult<State> {
    let (p, s, by) = (on.p, on.s, on.by);
    committee_only(s)?;
    let note = note_of(note)?;
    // Into a live proposal of the same session (not a draft, not one that was
    // itself merged, converted or rejected).
    let target = model::find(conn, into)?
        .filter(|t| t.id != p.id && t.session_id == p.session_id)
        .filter(|t| {
            matches!(
                t.state,
                State::Submitted
                    | State::Accepted
                    | State::Assigned
                    | State::Answered
                    | State::Closed
            )
        })
        .ok_or_else(|| AppError::field("into", "请填写同一次职代会另一件已提交的提案的编号"))?;
    // Both proposals' delegates are told.
    let mut told = people(conn, p)?;
    told.extend(people(conn, &target)?);
    told.sort_unstable();
    told.dedup();
    let body = format!("并入提案 #{}“{}”：{note}", target.id, target.title);
    let rec = Record {
        body: &body,
        internal: true,
        notify: told
            .into_iter()
            .map(|m| {
                (
                    m,
                    format!("提案“{}”已与“{}”并案", p.title, target.title),
                    format!("/proposals/{}", target.id),
                )
            })
            .collect(),
        ..Record::new(AuditAction::ProposalMerge)
    };
    let to = workflow::transition(conn, p, Action::Merge, None, by, &rec)?;
    model::set(
        conn,
        p.id,
        &model::Changes {
            merged_into: Some(Some(target.id)),
            decision_note: Some(Some(&note)),
            ..Default::default()
        },
    )?;
    // The target's line goes through `touch`, which claims its version: two
    // merges crossing each other cannot both win.
    let line = format!("并入提案 #{}“{}”", p.id, p.title);
    workflow::touch(
        conn,
        &target,
        by,
        &Record {
            kind: "merge",
            body: &line,
            ..Record::new(AuditAction::ProposalMerge)
        },
    )?;
    Ok(to)
}

fn assign(conn: &mut DbConnection, on: &On<'_>, lead: i32, co: &[i32]) -> AppResult<State> {
    let (p, s, by, actor, link) = (on.p, on.s, on.by, on.actor, &on.link);
    committee_only(s)?;
    let known: Vec<i32> = model::departments(conn)?.into_iter().map(|d| d.0).collect();
    if !known.contains(&lead) || co.iter().any(|d| !known.contains(d)) {
        return Err(AppError::field("lead", "请选择主办部门"));
    }
    let due = crate::workflow::calendar::Calendar::load(conn)?
        .add_working_days(actor.now, ANSWER_WORKING_DAYS);
    let mut notify = Vec::new();
    for d in std::iter::once(&lead).chain(co.iter()) {
        for h in model::handlers_of(conn, *d)? {
            notify.push((h, format!("交办提案：{}", p.title), link.to_string()));
        }
    }
    let rec = Record {
        notify,
        ..Record::new(AuditAction::ProposalAssign)
    };
    let to = workflow::transition(conn, p, Action::Assign, Some(due), by, &rec)?;
    model::set_departments(conn, p.id, lead, co)?;
    model::set(
        conn,
        p.id,
        &model::Changes {
            lead_department_id: Some(Some(lead)),
            ..Default::default()
        },
    )?;
    Ok(to)
}

fn answer(conn: &mut DbConnection, on: &On<'_>, grade: Grade, text: &str) -> AppResult<State> {
    let (p, s, by, link) = (on.p, on.s, on.by, &on.link);
    // Another department's handler has no such case to answer.
    if !s.lead_handler {
        return Err(AppError::NotFound);
    }
    let text = crate::text::clean(text);
    if !(10..=5000).contains(&text.chars().count()) {
        return Err(AppError::field(
            "answer",
            "答复请写明采取的措施（10 到 5000 字）",
        ));
    }
    let body = format!("{}。{text}", grade.label());
    let rec = Record {
        body: &body,
        notify: vec![(
            p.author_id,
            format!("您的提案“{}”已答复，请评价", p.title),
            link.to_string(),
        )],
        ..Record::new(AuditAction::ProposalAnswer)
    };
    let to = workflow::transition(conn, p, Action::Answer, None, by, &rec)?;
    model::set(
        conn,
        p.id,
        &model::Changes {
            answer: Some(Some(&text)),
            grade: Some(Some(grade.as_str())),
            answers: Some(p.answers.saturating_add(1)),
            overdue: Some(false),
            ..Default::default()
        },
    )?;
    Ok(to)
}

fn rate(conn: &mut DbConnection, on: &On<'_>, rating: Rating) -> AppResult<State> {
    let (p, s, by, actor, link) = (on.p, on.s, on.by, on.actor, &on.link);
    if !s.author {
        return Err(AppError::Forbidden);
    }
    // 不满意 the first time: back to the department once, with a new deadline.
    let again = rating == Rating::Unsatisfied && p.answers < MAX_ANSWERS;
    let (action, due) = if again {
        let due = crate::workflow::calendar::Calendar::load(conn)?
            .add_working_days(actor.now, REANSWER_WORKING_DAYS);
        (Action::Reopen, Some(due))
    } else {
        (Action::Rate, None)
    };
    let mut notify = Vec::new();
    if again {
        if let Some(lead) = p.lead_department_id {
            for h in model::handlers_of(conn, lead)? {
                notify.push((
                    h,
                    format!("提案“{}”的答复被评为不满意，请再次办理", p.title),
                    link.to_string(),
                ));
            }
        }
    }
    let rec = Record {
        body: rating.label(),
        notify,
        ..Record::new(AuditAction::ProposalRate)
    };
    let to = workflow::transition(conn, p, action, due, by, &rec)?;
    model::set(
        conn,
        p.id,
        &model::Changes {
            rating: Some(Some(rating.as_str())),
            ..Default::default()
        },
    )?;
    Ok(to)
}
