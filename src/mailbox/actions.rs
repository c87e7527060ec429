//! The chair's steps on a letter, one small function each, all on the one transition path
//! (`workflow::transition`/`touch`: guarded update, timeline line, audit row, notifications).

use diesel::prelude::*;

use super::{find, handles, Action, Letter};
use crate::audit::{Actor, AuditAction};
use crate::auth::User;
use crate::db::schema::mailbox_letters;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::org::Role;
use crate::workflow::{self, By, Record};

#[derive(Debug, Clone)]
pub enum Step {
    Answer(String),
    Forward(i32),
    Convert,
    /// Offer it to the congress delegates as a proposal suggestion (without the writer).
    Suggest,
    Publish(bool),
}

/// A step by the chair (or the cadre it was forwarded to) on the letter `r` seen at `version`.
/// NotFound unless the user handles the letter; Conflict when it changed meanwhile.
pub fn act(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    r: &str,
    version: i32,
    step: &Step,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let l = find(conn, r)?
            .filter(|l| handles(user, l))
            .ok_or(AppError::NotFound)?;
        if l.version != version {
            return Err(AppError::Conflict(workflow::CONFLICT.into()));
        }
        // The cadre a letter was forwarded to answers it; everything else is the chair's.
        let chair = user.is_admin || super::chaired(user).contains(&l.unit_id);
        if !chair && !matches!(step, Step::Answer(_)) {
            return Err(AppError::Forbidden);
        }
        let by = By {
            actor,
            label: &actor.name,
            anonymous: false,
        };
        match step {
            Step::Answer(text) => answer(conn, &l, &by, text),
            Step::Forward(cadre) => forward(conn, &l, &by, *cadre),
            Step::Convert => convert(conn, &l, &by),
            Step::Suggest => suggest(conn, &l, &by),
            Step::Publish(on) => publish(conn, &l, &by, *on),
        }
    })
}

/// The writer's notification about a step (none for an anonymous letter).
fn to_writer(l: &Letter) -> Vec<(i32, String, String)> {
    l.member_id
        .map(|m| {
            (
                m,
                format!("主席信箱回复：{}", l.subject),
                format!("/mailbox/{}", l.public_ref),
            )
        })
        .into_iter()
        .collect()
}

fn answer(conn: &mut DbConnection, l: &Letter, by: &By<'_>, text: &str) -> AppResult<()> {
    let text = crate::text::clean(text);
    if !(2..=5000).contains(&text.chars().count()) {
        return Err(AppError::field("answer", "请填写答复（5000 字以内）"));
    }
    let rec = Record {
        body: &text,
        notify: to_writer(l),
        ..Record::new(AuditAction::MailboxAnswer)
    };
    workflow::transition(conn, l, Action::Answer, None, by, &rec)?;
    diesel::update(mailbox_letters::table.find(l.id))
        .set(mailbox_letters::answer.eq(&text))
        .execute(conn)?;
    Ok(())
}

/// To a cadre or chair of the addressed union or one of its branches.
fn forward(conn: &mut DbConnection, l: &Letter, by: &By<'_>, cadre: i32) -> AppResult<()> {
    let unit = crate::org::model::find(conn, l.unit_id)?.ok_or(AppError::NotFound)?;
    let to = crate::auth::user::load_user(conn, cadre, "")?
        .filter(|u| {
            u.roles.iter().any(|r| {
                matches!(r.role, Role::Cadre | Role::Chair) && r.unit_path.starts_with(&unit.path)
            })
        })
        .ok_or_else(|| AppError::field("cadre", "请选择本单位的工会干部"))?;
    let rec = Record {
        body: &format!("转交 {} 办理", to.name),
        notify: vec![(
            to.id,
            format!("主席信箱转交：{}", l.subject),
            format!("/admin/mailbox/{}", l.public_ref),
        )],
        ..Record::new(AuditAction::MailboxForward)
    };
    workflow::transition(conn, l, Action::Forward, None, by, &rec)?;
    diesel::update(mailbox_letters::table.find(l.id))
        .set(mailbox_letters::forwarded_to.eq(to.id))
        .execute(conn)?;
    Ok(())
}

/// The letter becomes a case in the addressed union with no handler (the chair picks one);
/// named for a named letter, anonymous for an anonymous one.
fn convert(conn: &mut DbConnection, l: &Letter, by: &By<'_>) -> AppResult<()> {
    let from = crate::grievances::service::FromLetter {
        member_id: l.member_id,
        anonymous: l.anonymous,
        unit_id: l.unit_id,
        subject: &l.subject,
        body: &l.body,
    };
    crate::grievances::service::file_from_letter(conn, by.actor, &from)?;
    let rec = Record {
        body: "已转为维权申诉，按申诉流程办理",
        notify: to_writer(l),
        ..Record::new(AuditAction::MailboxConvert)
    };
    workflow::transition(conn, l, Action::Convert, None, by, &rec)?;
    Ok(())
}

/// Its text goes before every delegate: only with the writer's consent.
fn suggest(conn: &mut DbConnection, l: &Letter, by: &By<'_>) -> AppResult<()> {
    if !l.consent_publish {
        return Err(AppError::Validation(
            "来信人没有同意公开，不能转为提案建议".into(),
        ));
    }
    let rec = Record {
        body: "已转为职代会提案建议，供代表参考提出提案",
        notify: to_writer(l),
        ..Record::new(AuditAction::MailboxSuggest)
    };
    workflow::transition(conn, l, Action::Suggest, None, by, &rec)?;
    Ok(())
}

fn publish(conn: &mut DbConnection, l: &Letter, by: &By<'_>, on: bool) -> AppResult<()> {
    if on && (!l.consent_publish || l.answer.is_none()) {
        return Err(AppError::Validation(
            "只能公开来信人同意公开、且已答复的来信".into(),
        ));
    }
    let rec = Record {
        kind: "publish",
        body: if on { "公开" } else { "取消公开" },
        ..Record::new(AuditAction::MailboxPublish)
    };
    workflow::touch(conn, l, by, &rec)?;
    diesel::update(mailbox_letters::table.find(l.id))
        .set(mailbox_letters::published.eq(on))
        .execute(conn)?;
    Ok(())
}
