//! News rows and queries: audiences are org subtrees; read receipts count a member once.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{news_articles, news_audiences, news_categories, news_reads};
use crate::db::DbConnection;
use crate::error::AppResult;

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = news_categories)]
pub struct Category {
    pub id: i32,
    pub name: String,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = news_articles)]
pub struct Article {
    pub id: i32,
    pub category_id: i32,
    pub unit_id: i32,
    pub author_id: i32,
    pub title: String,
    pub summary: String,
    pub body_md: String,
    pub pinned: bool,
    pub mandatory: bool,
    pub draft: bool,
    pub publish_at: NaiveDateTime,
    pub view_count: i32,
    pub created_at: NaiveDateTime,
    pub cover_image_id: Option<i32>,
    pub comments_enabled: bool,
}

/// An article as lists show it: no body.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = news_articles)]
pub struct ArticleCard {
    pub id: i32,
    pub category_id: i32,
    pub title: String,
    pub summary: String,
    pub pinned: bool,
    pub mandatory: bool,
    pub publish_at: NaiveDateTime,
    pub view_count: i32,
    pub cover_image_id: Option<i32>,
}

impl ArticleCard {
    pub fn published_on(&self) -> String {
        crate::time::beijing(&self.publish_at, "%Y-%m-%d")
    }
}

impl Article {
    pub fn published_on(&self) -> String {
        crate::time::beijing(&self.publish_at, "%Y-%m-%d")
    }
    pub fn is_live(&self, now: NaiveDateTime) -> bool {
        !self.draft && self.publish_at <= now
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = news_articles)]
pub struct ArticleData<'a> {
    pub category_id: i32,
    pub unit_id: i32,
    pub title: &'a str,
    pub summary: &'a str,
    pub body_md: &'a str,
    pub pinned: bool,
    pub mandatory: bool,
    pub draft: bool,
    pub publish_at: NaiveDateTime,
    pub title_tokens: &'a str,
    pub body_tokens: &'a str,
    pub comments_enabled: bool,
    pub updated_at: NaiveDateTime,
}

pub fn categories(conn: &mut DbConnection) -> AppResult<Vec<Category>> {
    Ok(crate::on_backend!(conn, c => news_categories::table
        .order(news_categories::sort_order.asc())
        .select(Category::as_select())
        .load(c))?)
}

pub fn find(conn: &mut DbConnection, id: i32) -> AppResult<Option<Article>> {
    Ok(crate::on_backend!(conn, c => news_articles::table
        .find(id)
        .select(Article::as_select())
        .first(c)
        .optional())?)
}

pub fn insert(
    conn: &mut DbConnection,
    data: &ArticleData<'_>,
    author_id: i32,
    now: NaiveDateTime,
) -> AppResult<i32> {
    Ok(diesel::insert_into(news_articles::table)
        .values((
            data,
            news_articles::author_id.eq(author_id),
            news_articles::view_count.eq(0),
            news_articles::created_at.eq(now),
        ))
        .returning(news_articles::id)
        .get_result(conn)?)
}

pub fn update(conn: &mut DbConnection, id: i32, data: &ArticleData<'_>) -> AppResult<()> {
    diesel::update(news_articles::table.find(id))
        .set(data)
        .execute(conn)?;
    Ok(())
}

pub fn set_audience(conn: &mut DbConnection, id: i32, units: &[i32]) -> AppResult<()> {
    diesel::delete(news_audiences::table.filter(news_audiences::article_id.eq(id)))
        .execute(conn)?;
    for u in units {
        diesel::insert_into(news_audiences::table)
            .values((
                news_audiences::article_id.eq(id),
                news_audiences::unit_id.eq(u),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn audience(conn: &mut DbConnection, id: i32) -> AppResult<Vec<i32>> {
    Ok(crate::on_backend!(conn, c => news_audiences::table
        .filter(news_audiences::article_id.eq(id))
        .select(news_audiences::unit_id)
        .load(c))?)
}

/// One page of the live articles whose audience includes a unit on the reader's path
/// (`scope::path_slots`), pinned first, newest first, optionally of one category; and how many
/// there are. Both statements have one shape for every reader, so they stay prepared.
pub fn listing(
    conn: &mut DbConnection,
    slots: [i32; crate::org::scope::PATH_SLOTS],
    now: NaiveDateTime,
    category: Option<i32>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<ArticleCard>, i64)> {
    use diesel::sql_types::{Integer, Nullable};
    let live = news_articles::draft
        .eq(false)
        .and(news_articles::publish_at.le(now))
        .and(
            category
                .into_sql::<Nullable<Integer>>()
                .is_null()
                .or(news_articles::category_id.nullable().eq(category)),
        )
        .and(
            news_articles::id.eq_any(
                news_audiences::table
                    .filter(crate::on_path!(news_audiences::unit_id, slots))
                    .select(news_audiences::article_id),
            ),
        );
    crate::on_backend!(conn, c => {
        let total: i64 = news_articles::table.filter(live).count().get_result(c)?;
        let rows = news_articles::table
            .filter(live)
            .order((
                news_articles::pinned.desc(),
                news_articles::publish_at.desc(),
                news_articles::id.desc(),
            ))
            .limit(limit)
            .offset(offset)
            .select(ArticleCard::as_select())
            .load(c)?;
        Ok((rows, total))
    })
}

/// Live articles whose audience includes a unit on `ancestors` (the reader's unit path),
/// pinned first, newest first. `ids` restricts to given articles (search results).
pub fn visible(
    conn: &mut DbConnection,
    ancestors: &[i32],
    now: NaiveDateTime,
    category: Option<i32>,
    ids: Option<&[i32]>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Article>, i64)> {
    let build = || {
        let mut q = news_articles::table
            .filter(news_articles::draft.eq(false))
            .filter(news_articles::publish_at.le(now))
            .filter(
                news_articles::id.eq_any(
                    news_audiences::table
                        .filter(news_audiences::unit_id.eq_any(ancestors.to_vec()))
                        .select(news_audiences::article_id),
                ),
            )
            .into_boxed();
        if let Some(c) = category {
            q = q.filter(news_articles::category_id.eq(c));
        }
        if let Some(ids) = ids {
            q = q.filter(news_articles::id.eq_any(ids.to_vec()));
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows = build()
        .order((
            news_articles::pinned.desc(),
            news_articles::publish_at.desc(),
            news_articles::id.desc(),
        ))
        .limit(limit)
        .offset(offset)
        .select(Article::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// Mandatory live articles for the reader that they have not opened yet.
pub fn unread_mandatory(
    conn: &mut DbConnection,
    member_id: i32,
    slots: [i32; crate::org::scope::PATH_SLOTS],
    now: NaiveDateTime,
) -> AppResult<Vec<ArticleCard>> {
    Ok(crate::on_backend!(conn, c => news_articles::table
        .filter(news_articles::draft.eq(false))
        .filter(news_articles::mandatory.eq(true))
        .filter(news_articles::publish_at.le(now))
        .filter(
            news_articles::id.eq_any(
                news_audiences::table
                    .filter(crate::on_path!(news_audiences::unit_id, slots))
                    .select(news_audiences::article_id),
            ),
        )
        .filter(diesel::dsl::not(
            news_articles::id.eq_any(
                news_reads::table
                    .filter(news_reads::member_id.eq(member_id))
                    .select(news_reads::article_id),
            ),
        ))
        .order(news_articles::publish_at.desc())
        .limit(20)
        .select(ArticleCard::as_select())
        .load(c))?)
}

/// Record a read once (the first open counts; later ones change nothing).
pub fn record_read(
    conn: &mut DbConnection,
    article_id: i32,
    member_id: i32,
    now: NaiveDateTime,
) -> AppResult<()> {
    if has_read(conn, article_id, member_id)? {
        return Ok(());
    }
    let seen: i64 = news_reads::table
        .filter(news_reads::article_id.eq(article_id))
        .filter(news_reads::member_id.eq(member_id))
        .count()
        .get_result(conn)?;
    if seen == 0 {
        diesel::insert_into(news_reads::table)
            .values((
                news_reads::article_id.eq(article_id),
                news_reads::member_id.eq(member_id),
                news_reads::read_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn readers(conn: &mut DbConnection, article_id: i32) -> AppResult<Vec<i32>> {
    Ok(news_reads::table
        .filter(news_reads::article_id.eq(article_id))
        .select(news_reads::member_id)
        .load(conn)?)
}

/// Articles published by units in `unit_ids` (None: all), newest first, for the admin list.
pub fn for_units(
    conn: &mut DbConnection,
    unit_ids: Option<&[i32]>,
    limit: i64,
) -> AppResult<Vec<Article>> {
    let mut q = news_articles::table.into_boxed();
    if let Some(ids) = unit_ids {
        q = q.filter(news_articles::unit_id.eq_any(ids.to_vec()));
    }
    Ok(q.order(news_articles::id.desc())
        .limit(limit)
        .select(Article::as_select())
        .load(conn)?)
}

pub fn has_read(conn: &mut DbConnection, article_id: i32, member_id: i32) -> AppResult<bool> {
    let n: i64 = crate::on_backend!(conn, c => news_reads::table
        .filter(news_reads::article_id.eq(article_id))
        .filter(news_reads::member_id.eq(member_id))
        .count()
        .get_result(c))?;
    Ok(n > 0)
}

/// Add buffered views to the stored counts.
#[allow(clippy::arithmetic_side_effects)] // `column + n` builds SQL, not Rust arithmetic
pub fn add_views(conn: &mut DbConnection, views: &[(i32, i32)]) -> AppResult<()> {
    for (id, n) in views {
        diesel::update(news_articles::table.find(*id))
            .set(news_articles::view_count.eq(news_articles::view_count + *n))
            .execute(conn)?;
    }
    Ok(())
}

pub fn set_cover(conn: &mut DbConnection, id: i32, image_id: i32) -> AppResult<()> {
    diesel::update(news_articles::table.find(id))
        .set(news_articles::cover_image_id.eq(image_id))
        .execute(conn)?;
    Ok(())
}

pub fn insert_category(conn: &mut DbConnection, name: &str, sort_order: i32) -> AppResult<i32> {
    Ok(diesel::insert_into(news_categories::table)
        .values((
            news_categories::name.eq(name),
            news_categories::sort_order.eq(sort_order),
        ))
        .returning(news_categories::id)
        .get_result(conn)?)
}

pub fn update_category(
    conn: &mut DbConnection,
    id: i32,
    name: &str,
    sort_order: i32,
) -> AppResult<usize> {
    Ok(diesel::update(news_categories::table.find(id))
        .set((
            news_categories::name.eq(name),
            news_categories::sort_order.eq(sort_order),
        ))
        .execute(conn)?)
}

/// (category id, sort order) of every category, for the admin page.
pub fn category_orders(conn: &mut DbConnection) -> AppResult<Vec<(i32, i32)>> {
    Ok(news_categories::table
        .select((news_categories::id, news_categories::sort_order))
        .load(conn)?)
}
