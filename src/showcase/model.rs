//! Showcase rows and queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{members, org_units, showcase_likes, showcase_posts};
use crate::db::DbConnection;
use crate::error::AppResult;

pub const CATEGORIES: [&str; 4] = ["劳模风采", "活动剪影", "才艺展示", "先进集体"];

#[derive(Queryable, Debug, Clone)]
pub struct Post {
    pub id: i32,
    pub member_id: i32,
    pub unit_id: i32,
    pub category: String,
    pub title: String,
    pub story: String,
    pub status: PostStatus,
    pub reject_reason: String,
    pub featured: bool,
    pub like_count: i32,
    pub comment_count: i32,
    pub cover_image_id: Option<i32>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub author: String,
    pub unit_name: String,
    pub unit_path: String,
}

crate::text_enum! {
    /// Where a showcase post stands. Stored as its code in `showcase_posts.status`.
    pub enum PostStatus {
        Pending = ("pending", "待审核"),
        Approved = ("approved", "已发布"),
        Rejected = ("rejected", "未通过"),
    }
}

impl Post {
    pub fn is_approved(&self) -> bool {
        self.status == PostStatus::Approved
    }
    pub fn is_rejected(&self) -> bool {
        self.status == PostStatus::Rejected
    }
    pub fn status_label(&self) -> &'static str {
        self.status.label()
    }
    pub fn date(&self) -> String {
        crate::time::beijing(&self.created_at, "%Y-%m-%d")
    }
    /// The story's first line, shortened, for cards and search results.
    pub fn excerpt(&self) -> String {
        let s: String = self.story.split_whitespace().collect::<Vec<_>>().join(" ");
        if s.chars().count() > 60 {
            format!("{}…", s.chars().take(60).collect::<String>())
        } else {
            s
        }
    }
}

type PostCols = (
    (
        showcase_posts::id,
        showcase_posts::member_id,
        showcase_posts::unit_id,
        showcase_posts::category,
        showcase_posts::title,
        showcase_posts::story,
        showcase_posts::status,
        showcase_posts::reject_reason,
        showcase_posts::featured,
        showcase_posts::like_count,
        showcase_posts::comment_count,
        showcase_posts::cover_image_id,
        showcase_posts::version,
        showcase_posts::created_at,
    ),
    members::name,
    org_units::name,
    org_units::path,
);

fn cols() -> PostCols {
    (
        (
            showcase_posts::id,
            showcase_posts::member_id,
            showcase_posts::unit_id,
            showcase_posts::category,
            showcase_posts::title,
            showcase_posts::story,
            showcase_posts::status,
            showcase_posts::reject_reason,
            showcase_posts::featured,
            showcase_posts::like_count,
            showcase_posts::comment_count,
            showcase_posts::cover_image_id,
            showcase_posts::version,
            showcase_posts::created_at,
        ),
        members::name,
        org_units::name,
        org_units::path,
    )
}

type Row = (
    (
        i32,
        i32,
        i32,
        String,
        String,
        String,
        PostStatus,
        String,
        bool,
        i32,
        i32,
        Option<i32>,
        i32,
        NaiveDateTime,
    ),
    String,
    String,
    String,
);

fn to_post(r: Row) -> Post {
    let (p, author, unit_name, unit_path) = r;
    Post {
        id: p.0,
        member_id: p.1,
        unit_id: p.2,
        category: p.3,
        title: p.4,
        story: p.5,
        status: p.6,
        reject_reason: p.7,
        featured: p.8,
        like_count: p.9,
        comment_count: p.10,
        cover_image_id: p.11,
        version: p.12,
        created_at: p.13,
        author,
        unit_name,
        unit_path,
    }
}

macro_rules! base {
    () => {
        showcase_posts::table
            .inner_join(members::table.on(members::id.eq(showcase_posts::member_id)))
            .inner_join(org_units::table.on(org_units::id.eq(showcase_posts::unit_id)))
    };
}

pub fn find(conn: &mut DbConnection, id: i32) -> AppResult<Option<Post>> {
    let r: Option<Row> = base!()
        .filter(showcase_posts::id.eq(id))
        .select(cols())
        .first(conn)
        .optional()?;
    Ok(r.map(to_post))
}

/// Approved posts, newest first; `category` narrows, `ids` restricts (search results).
pub fn approved(
    conn: &mut DbConnection,
    category: Option<&str>,
    ids: Option<&[i32]>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Post>, i64)> {
    let build = || {
        let mut q = base!()
            .filter(showcase_posts::status.eq(PostStatus::Approved))
            .into_boxed();
        if let Some(c) = category {
            q = q.filter(showcase_posts::category.eq(c.to_string()));
        }
        if let Some(ids) = ids {
            q = q.filter(showcase_posts::id.eq_any(ids.to_vec()));
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<Row> = build()
        .order((showcase_posts::created_at.desc(), showcase_posts::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(cols())
        .load(conn)?;
    Ok((rows.into_iter().map(to_post).collect(), total))
}

/// Featured posts for the home page, newest first; when none are featured, the latest approved.
pub fn featured(conn: &mut DbConnection, limit: i64) -> AppResult<Vec<Post>> {
    let rows: Vec<Row> = base!()
        .filter(showcase_posts::status.eq(PostStatus::Approved))
        .filter(showcase_posts::featured.eq(true))
        .order((showcase_posts::created_at.desc(), showcase_posts::id.desc()))
        .limit(limit)
        .select(cols())
        .load(conn)?;
    if rows.is_empty() {
        return Ok(approved(conn, None, None, limit, 0)?.0);
    }
    Ok(rows.into_iter().map(to_post).collect())
}

pub fn by_member(conn: &mut DbConnection, member_id: i32) -> AppResult<Vec<Post>> {
    let rows: Vec<Row> = base!()
        .filter(showcase_posts::member_id.eq(member_id))
        .order(showcase_posts::id.desc())
        .limit(200)
        .select(cols())
        .load(conn)?;
    Ok(rows.into_iter().map(to_post).collect())
}

/// Posts in a status of units in `unit_ids` (`None`: all), oldest first: the review queue.
/// The scope is in SQL before the cap, so posts waiting elsewhere never push these out.
pub fn by_status(
    conn: &mut DbConnection,
    status: PostStatus,
    unit_ids: Option<&[i32]>,
    limit: i64,
) -> AppResult<Vec<Post>> {
    let mut q = base!()
        .filter(showcase_posts::status.eq(status))
        .into_boxed();
    if let Some(ids) = unit_ids {
        q = q.filter(showcase_posts::unit_id.eq_any(ids.to_vec()));
    }
    let rows: Vec<Row> = q
        .order(showcase_posts::id.asc())
        .limit(limit)
        .select(cols())
        .load(conn)?;
    Ok(rows.into_iter().map(to_post).collect())
}

#[derive(Insertable)]
#[diesel(table_name = showcase_posts)]
pub struct NewPost<'a> {
    pub member_id: i32,
    pub unit_id: i32,
    pub category: &'a str,
    pub title: &'a str,
    pub story: &'a str,
    pub status: PostStatus,
    pub title_tokens: &'a str,
    pub body_tokens: &'a str,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, p: &NewPost<'_>) -> AppResult<i32> {
    Ok(diesel::insert_into(showcase_posts::table)
        .values(p)
        .returning(showcase_posts::id)
        .get_result(conn)?)
}

pub fn set_cover(conn: &mut DbConnection, id: i32, image_id: i32) -> AppResult<()> {
    diesel::update(showcase_posts::table.find(id))
        .set(showcase_posts::cover_image_id.eq(image_id))
        .execute(conn)?;
    Ok(())
}

/// Move a pending post to approved or rejected if nobody else did first (0 rows = conflict).
#[allow(clippy::arithmetic_side_effects)] // `version + 1` builds SQL, not Rust arithmetic
pub fn decide(
    conn: &mut DbConnection,
    id: i32,
    version: i32,
    status: PostStatus,
    reason: &str,
    by: i32,
    now: NaiveDateTime,
) -> AppResult<usize> {
    Ok(diesel::update(
        showcase_posts::table
            .filter(showcase_posts::id.eq(id))
            .filter(showcase_posts::status.eq(PostStatus::Pending))
            .filter(showcase_posts::version.eq(version)),
    )
    .set((
        showcase_posts::status.eq(status),
        showcase_posts::reject_reason.eq(reason),
        showcase_posts::decided_by.eq(by),
        showcase_posts::decided_at.eq(now),
        showcase_posts::version.eq(showcase_posts::version + 1),
    ))
    .execute(conn)?)
}

#[allow(clippy::arithmetic_side_effects)] // `version + 1` builds SQL, not Rust arithmetic
pub fn set_featured(conn: &mut DbConnection, id: i32, version: i32, on: bool) -> AppResult<usize> {
    Ok(diesel::update(
        showcase_posts::table
            .filter(showcase_posts::id.eq(id))
            .filter(showcase_posts::version.eq(version)),
    )
    .set((
        showcase_posts::featured.eq(on),
        showcase_posts::version.eq(showcase_posts::version + 1),
    ))
    .execute(conn)?)
}

pub fn liked(conn: &mut DbConnection, post_id: i32, member_id: i32) -> AppResult<bool> {
    let n: i64 = showcase_likes::table
        .filter(showcase_likes::post_id.eq(post_id))
        .filter(showcase_likes::member_id.eq(member_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Like or unlike; the stored count follows the likes table inside the same transaction.
/// Lock a post's row for the rest of the transaction (a no-op update): counts recomputed after
/// it see every committed like and comment, also on PostgreSQL under READ COMMITTED, where two
/// transactions counting at once would otherwise both write the same stale number.
pub fn lock(conn: &mut DbConnection, post_id: i32) -> AppResult<()> {
    diesel::update(showcase_posts::table.find(post_id))
        .set(showcase_posts::like_count.eq(showcase_posts::like_count))
        .execute(conn)?;
    Ok(())
}

pub fn toggle_like(
    conn: &mut DbConnection,
    post_id: i32,
    member_id: i32,
    now: NaiveDateTime,
) -> AppResult<bool> {
    lock(conn, post_id)?;
    let now_liked = if liked(conn, post_id, member_id)? {
        diesel::delete(
            showcase_likes::table
                .filter(showcase_likes::post_id.eq(post_id))
                .filter(showcase_likes::member_id.eq(member_id)),
        )
        .execute(conn)?;
        false
    } else {
        diesel::insert_into(showcase_likes::table)
            .values((
                showcase_likes::post_id.eq(post_id),
                showcase_likes::member_id.eq(member_id),
                showcase_likes::created_at.eq(now),
            ))
            .execute(conn)?;
        true
    };
    let n: i64 = showcase_likes::table
        .filter(showcase_likes::post_id.eq(post_id))
        .count()
        .get_result(conn)?;
    diesel::update(showcase_posts::table.find(post_id))
        .set(showcase_posts::like_count.eq(n as i32))
        .execute(conn)?;
    Ok(now_liked)
}
