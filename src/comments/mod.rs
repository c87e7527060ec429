//! Comments on news articles and showcase posts: members write and report them, cadres of the
//! owner's unit hide or restore them. The owning feature checks that the reader may see the
//! article or post before calling in here.

pub mod handlers;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::schema::{
    comment_reports, comments, members, news_articles, org_units, showcase_posts,
};
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::org::scope;

pub use handlers::routes;

/// What owns a comment thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    News(i32),
    Showcase(i32),
}

impl Owner {
    fn parts(self) -> (&'static str, i32) {
        match self {
            Owner::News(id) => ("news", id),
            Owner::Showcase(id) => ("showcase", id),
        }
    }
    fn from_parts(kind: &str, id: i32) -> Option<Owner> {
        match kind {
            "news" => Some(Owner::News(id)),
            "showcase" => Some(Owner::Showcase(id)),
            _ => None,
        }
    }
    /// The page the thread is on.
    pub fn url(self) -> String {
        match self {
            Owner::News(id) => format!("/news/{id}#comments"),
            Owner::Showcase(id) => format!("/showcase/{id}#comments"),
        }
    }
}

#[derive(Queryable, Debug, Clone)]
pub struct Comment {
    pub id: i32,
    pub owner_type: String,
    pub owner_id: i32,
    pub member_id: i32,
    pub body: String,
    pub hidden: bool,
    pub report_count: i32,
    pub created_at: NaiveDateTime,
    pub author: String,
    pub unit: String,
}

impl Comment {
    pub fn when(&self) -> String {
        crate::time::beijing(&self.created_at, "%m-%d %H:%M")
    }
    pub fn owner_url(&self) -> String {
        Owner::from_parts(&self.owner_type, self.owner_id).map_or_else(String::new, Owner::url)
    }
}

type CommentCols = (
    comments::id,
    comments::owner_type,
    comments::owner_id,
    comments::member_id,
    comments::body,
    comments::hidden,
    comments::report_count,
    comments::created_at,
    members::name,
    org_units::name,
);
const COLS: CommentCols = (
    comments::id,
    comments::owner_type,
    comments::owner_id,
    comments::member_id,
    comments::body,
    comments::hidden,
    comments::report_count,
    comments::created_at,
    members::name,
    org_units::name,
);

/// The visible thread, oldest first (hidden ones left out): its newest 500, so a flood of
/// comments from one member cannot keep everyone's later ones off the page for good.
pub fn thread(conn: &mut DbConnection, owner: Owner) -> AppResult<Vec<Comment>> {
    let (kind, id) = owner.parts();
    let mut rows: Vec<Comment> = crate::on_backend!(conn, c => comments::table
        .inner_join(members::table.inner_join(org_units::table))
        .filter(comments::owner_type.eq(kind))
        .filter(comments::owner_id.eq(id))
        .filter(comments::hidden.eq(false))
        .order(comments::id.desc())
        .limit(500)
        .select(COLS)
        .load(c))?;
    rows.reverse();
    Ok(rows)
}

pub const MAX_LEN: usize = 500;

/// Add a comment (1–500 characters). `Err(Validation)` carries the message for the form.
pub fn add(
    conn: &mut DbConnection,
    user: &User,
    owner: Owner,
    body: &str,
    now: NaiveDateTime,
) -> AppResult<i32> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > MAX_LEN {
        return Err(AppError::Validation(format!(
            "评论请写 1 到 {MAX_LEN} 个字"
        )));
    }
    let (kind, id) = owner.parts();
    write_tx(conn, |conn| {
        let cid = diesel::insert_into(comments::table)
            .values((
                comments::owner_type.eq(kind),
                comments::owner_id.eq(id),
                comments::member_id.eq(user.id),
                comments::body.eq(body),
                comments::hidden.eq(false),
                comments::report_count.eq(0),
                comments::created_at.eq(now),
            ))
            .returning(comments::id)
            .get_result(conn)?;
        recount(conn, owner)?;
        Ok(cid)
    })
}

/// Keep the showcase post's comment count equal to its visible comments.
fn recount(conn: &mut DbConnection, owner: Owner) -> AppResult<()> {
    if let Owner::Showcase(id) = owner {
        // Lock the post first, so the count below sees every committed comment.
        crate::showcase::model::lock(conn, id)?;
        let n: i64 = comments::table
            .filter(comments::owner_type.eq("showcase"))
            .filter(comments::owner_id.eq(id))
            .filter(comments::hidden.eq(false))
            .count()
            .get_result(conn)?;
        diesel::update(showcase_posts::table.find(id))
            .set(showcase_posts::comment_count.eq(n as i32))
            .execute(conn)?;
    }
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: i32) -> AppResult<Option<Comment>> {
    Ok(comments::table
        .inner_join(members::table.inner_join(org_units::table))
        .filter(comments::id.eq(id))
        .select(COLS)
        .first(conn)
        .optional()?)
}

/// A member reports a comment once; later reports by the same member change nothing.
pub fn report(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    reason: &str,
    now: NaiveDateTime,
) -> AppResult<Owner> {
    let reason: String = reason.trim().chars().take(200).collect();
    write_tx(conn, |conn| {
        let c = find(conn, id)?.ok_or(AppError::NotFound)?;
        let owner = Owner::from_parts(&c.owner_type, c.owner_id).ok_or(AppError::NotFound)?;
        // Only a comment the member can see: a visible comment under an item they may read.
        if c.hidden {
            return Err(AppError::NotFound);
        }
        match owner {
            Owner::News(a) => {
                crate::news::service::readable(conn, user, a, now)?;
            }
            Owner::Showcase(p) => {
                crate::showcase::access::open(conn, user, p)?;
            }
        }
        let already: i64 = comment_reports::table
            .filter(comment_reports::comment_id.eq(id))
            .filter(comment_reports::member_id.eq(user.id))
            .count()
            .get_result(conn)?;
        if already == 0 {
            diesel::insert_into(comment_reports::table)
                .values((
                    comment_reports::comment_id.eq(id),
                    comment_reports::member_id.eq(user.id),
                    comment_reports::reason.eq(&reason),
                    comment_reports::created_at.eq(now),
                ))
                .execute(conn)?;
            // `column + 1` builds SQL, not Rust arithmetic.
            #[allow(clippy::arithmetic_side_effects)]
            diesel::update(comments::table.find(id))
                .set(comments::report_count.eq(comments::report_count + 1))
                .execute(conn)?;
        }
        Ok(owner)
    })
}

/// The unit whose cadres moderate a thread: the article's publishing unit or the post's unit.
fn owner_unit(conn: &mut DbConnection, owner: Owner) -> AppResult<Option<(i32, String)>> {
    Ok(match owner {
        Owner::News(id) => news_articles::table
            .inner_join(org_units::table.on(org_units::id.eq(news_articles::unit_id)))
            .filter(news_articles::id.eq(id))
            .select((org_units::id, org_units::path))
            .first(conn)
            .optional()?,
        Owner::Showcase(id) => showcase_posts::table
            .inner_join(org_units::table.on(org_units::id.eq(showcase_posts::unit_id)))
            .filter(showcase_posts::id.eq(id))
            .select((org_units::id, org_units::path))
            .first(conn)
            .optional()?,
    })
}

/// Hide or restore a comment (cadres of the owner's unit); audited in the same transaction.
pub fn moderate(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    hide: bool,
) -> AppResult<Owner> {
    write_tx(conn, |conn| {
        let c = find(conn, id)?.ok_or(AppError::NotFound)?;
        let owner = Owner::from_parts(&c.owner_type, c.owner_id).ok_or(AppError::NotFound)?;
        let (unit_id, path) = owner_unit(conn, owner)?.ok_or(AppError::NotFound)?;
        if !scope::manages(user, &path) {
            return Err(AppError::NotFound);
        }
        diesel::update(comments::table.find(id))
            .set(comments::hidden.eq(hide))
            .execute(conn)?;
        recount(conn, owner)?;
        let excerpt: String = c.body.chars().take(60).collect();
        audit::record(
            conn,
            actor,
            Some(unit_id),
            if hide {
                crate::audit::AuditAction::CommentHide
            } else {
                crate::audit::AuditAction::CommentRestore
            },
            ("comment", Some(id)),
            &excerpt,
        )?;
        Ok(owner)
    })
}

/// Reported or hidden comments the cadre may moderate (under an article or a post of a unit
/// they manage), most reported first. The scope is in SQL before the cap, so reports elsewhere
/// never push the cadre's own out of the list.
pub fn queue(conn: &mut DbConnection, user: &User) -> AppResult<Vec<Comment>> {
    let mut q = comments::table
        .filter(comments::report_count.gt(0).or(comments::hidden.eq(true)))
        .into_boxed();
    if let Some(units) = scope::managed_unit_ids(conn, user)? {
        let news = news_articles::table
            .filter(news_articles::unit_id.eq_any(units.clone()))
            .select(news_articles::id);
        let posts = showcase_posts::table
            .filter(showcase_posts::unit_id.eq_any(units))
            .select(showcase_posts::id);
        q = q.filter(
            comments::owner_type
                .eq("news")
                .and(comments::owner_id.eq_any(news))
                .or(comments::owner_type
                    .eq("showcase")
                    .and(comments::owner_id.eq_any(posts))),
        );
    }
    let order = (
        comments::hidden.asc(),
        comments::report_count.desc(),
        comments::id.desc(),
    );
    let ids: Vec<i32> = q.order(order).limit(300).select(comments::id).load(conn)?;
    Ok(comments::table
        .inner_join(members::table.inner_join(org_units::table))
        .filter(comments::id.eq_any(ids))
        .order(order)
        .select(COLS)
        .load(conn)?)
}
