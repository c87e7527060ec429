//! Showcase rules: a post is seen by others only once a cadre of its unit approved it; the
//! author and those cadres see it before. Likes and comments only on approved posts.

use chrono::NaiveDateTime;

use super::model::{self, NewPost, Post, CATEGORIES};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::comments::{self, Owner};
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::images::{self, Processed};
use crate::org::scope;
use crate::outbox::{Kind, Out};
use crate::workflow::CONFLICT;

pub const MAX_PHOTOS: usize = 9;

pub use super::access::{may_view, open};

/// What the submit form posts (photos come separately).
#[derive(Debug, Default, Clone)]
pub struct PostForm {
    pub category: String,
    pub title: String,
    pub story: String,
}

impl PostForm {
    pub fn check(&self, photos: usize, e: &mut FieldErrors) {
        if !CATEGORIES.contains(&self.category.as_str()) {
            e.add("category", "请选择类别");
        }
        let t = self.title.trim().chars().count();
        if t == 0 || t > 40 {
            e.add("title", "请填写标题（40 字以内）");
        }
        let s = self.story.trim().chars().count();
        if s == 0 || s > 2000 {
            e.add("story", "请写下照片背后的故事（2000 字以内）");
        }
        if photos == 0 {
            e.add("photos", "请至少上传 1 张照片");
        } else if photos > MAX_PHOTOS {
            e.add("photos", format!("最多上传 {MAX_PHOTOS} 张照片"));
        }
    }
}

/// Store a new post (pending review) with its re-encoded photos; tell the unit's cadres.
pub fn submit(
    conn: &mut DbConnection,
    user: &User,
    form: &PostForm,
    photos: &[Processed],
    now: NaiveDateTime,
) -> AppResult<i32> {
    let title = form.title.trim();
    let story = form.story.trim();
    write_tx(conn, |conn| {
        let id = model::insert(
            conn,
            &NewPost {
                member_id: user.id,
                unit_id: user.unit_id,
                category: &form.category,
                title,
                story,
                status: model::PostStatus::Pending,
                title_tokens: &crate::search::token_string(title),
                body_tokens: &crate::search::token_string(&format!("{} {story}", form.category)),
                created_at: now,
            },
        )?;
        for (i, p) in photos.iter().enumerate() {
            let img = images::model::insert(conn, ("showcase", id), i as i32, p, now)?;
            if i == 0 {
                model::set_cover(conn, id, img)?;
            }
        }
        let actor = Actor::user(user, None, now);
        audit::record(
            conn,
            &actor,
            Some(user.unit_id),
            crate::audit::AuditAction::ShowcaseSubmit,
            ("showcase", Some(id)),
            title,
        )?;
        if let Some(unit) = crate::org::model::find(conn, user.unit_id)? {
            for cadre in scope::responsible_cadres(conn, &unit)? {
                crate::notifications::notify(
                    conn,
                    cadre,
                    &format!("新的风采投稿待审核：{title}"),
                    "/admin/showcase",
                    now,
                    Out::Generic(Kind::Approval),
                )?;
            }
        }
        Ok(id)
    })
}

/// Approve, or reject with a reason. Only cadres of the post's unit; a second decision on the
/// same version loses with a conflict message.
pub fn decide(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    version: i32,
    approve: bool,
    reason: &str,
) -> AppResult<()> {
    let reason = reason.trim();
    if !approve && reason.is_empty() {
        return Err(AppError::Validation(
            "请填写不通过的原因，作者会看到它".into(),
        ));
    }
    write_tx(conn, |conn| {
        let p = model::find(conn, id)?.ok_or(AppError::NotFound)?;
        if !scope::manages(user, &p.unit_path) {
            return Err(AppError::NotFound);
        }
        // Nobody approves their own post: another cadre of the unit decides.
        if p.member_id == user.id {
            return Err(AppError::Validation(
                "不能审核自己的投稿，请由本单位其他工会干部审核".into(),
            ));
        }
        let status = if approve {
            model::PostStatus::Approved
        } else {
            model::PostStatus::Rejected
        };
        let reason: String = reason.chars().take(200).collect();
        if model::decide(conn, id, version, status, &reason, user.id, actor.now)? != 1 {
            return Err(AppError::Conflict(CONFLICT.into()));
        }
        audit::record(
            conn,
            actor,
            Some(p.unit_id),
            if approve {
                crate::audit::AuditAction::ShowcaseApprove
            } else {
                crate::audit::AuditAction::ShowcaseReject
            },
            ("showcase", Some(id)),
            if approve { &p.title } else { &reason },
        )?;
        let msg = if approve {
            format!("您的风采投稿“{}”已通过审核并发布", p.title)
        } else {
            format!("您的风采投稿“{}”未通过审核：{reason}", p.title)
        };
        crate::notifications::notify(
            conn,
            p.member_id,
            &msg,
            &format!("/showcase/{id}"),
            actor.now,
            Out::Full(Kind::Progress),
        )?;
        Ok(())
    })
}

/// Feature an approved post on the home page, or stop featuring it.
pub fn feature(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    version: i32,
    on: bool,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let p = model::find(conn, id)?.ok_or(AppError::NotFound)?;
        if !scope::manages(user, &p.unit_path) {
            return Err(AppError::NotFound);
        }
        if !p.is_approved() || model::set_featured(conn, id, version, on)? != 1 {
            return Err(AppError::Conflict(CONFLICT.into()));
        }
        audit::record(
            conn,
            actor,
            Some(p.unit_id),
            if on {
                crate::audit::AuditAction::ShowcaseFeature
            } else {
                crate::audit::AuditAction::ShowcaseUnfeature
            },
            ("showcase", Some(id)),
            &p.title,
        )
    })
}

/// Like or unlike an approved post; returns whether it is liked now.
pub fn like(conn: &mut DbConnection, user: &User, id: i32, now: NaiveDateTime) -> AppResult<bool> {
    write_tx(conn, |conn| {
        let p = open(conn, user, id)?;
        if !p.is_approved() {
            return Err(AppError::Validation("审核通过后才能点赞".into()));
        }
        model::toggle_like(conn, id, user.id, now)
    })
}

/// Comment on an approved post.
pub fn comment(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    body: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let p = open(conn, user, id)?;
    if !p.is_approved() {
        return Err(AppError::Validation("审核通过后才能评论".into()));
    }
    comments::add(conn, user, Owner::Showcase(id), body, now)?;
    Ok(())
}

/// Posts waiting for (or past) review that this cadre may decide: their units' oldest 200,
/// chosen in SQL, so posts waiting in other units cannot fill the list.
pub fn queue(
    conn: &mut DbConnection,
    user: &User,
    status: model::PostStatus,
) -> AppResult<Vec<Post>> {
    let units = scope::managed_unit_ids(conn, user)?;
    model::by_status(conn, status, units.as_deref(), 200)
}
