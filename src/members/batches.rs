//! The `import_batches` table: a roster uploaded in the admin area waits here between its
//! preview and the confirmation, its initial passwords sealed (hashed, or the reason they were
//! refused); the file of generated passwords made at the confirmation waits here until it is
//! downloaded once (or the batch is a day old).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::import_batches as ib;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// A batch as its owner sees it.
pub struct Batch {
    pub file_name: String,
    pub rows_csv: String,
    /// Confirmed (the import started).
    pub done: bool,
    pub has_download: bool,
    /// Rows written so far, of `total`.
    pub progress: i32,
    pub total: i32,
    /// The outcome once the import finished: counts, then one line per error.
    pub summary: Option<String>,
}

/// A batch of this member's, else NotFound.
pub fn find(conn: &mut DbConnection, member_id: i32, token: &str) -> AppResult<Batch> {
    type Row = (String, String, bool, bool, i32, i32, Option<String>);
    let (file_name, rows_csv, done, has_download, progress, total, summary) = ib::table
        .find(token)
        .filter(ib::member_id.eq(member_id))
        .select((
            ib::file_name,
            ib::rows_csv,
            ib::done,
            ib::download.is_not_null(),
            ib::progress,
            ib::total,
            ib::summary,
        ))
        .first::<Row>(conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
    Ok(Batch {
        file_name,
        rows_csv,
        done,
        has_download,
        progress,
        total,
        summary,
    })
}

pub fn insert(
    conn: &mut DbConnection,
    token: &str,
    member_id: i32,
    file_name: &str,
    rows_csv: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(ib::table)
        .values((
            ib::token.eq(token),
            ib::member_id.eq(member_id),
            ib::file_name.eq(file_name),
            ib::rows_csv.eq(rows_csv),
            ib::done.eq(false),
            ib::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Mark the batch imported; false if it already was (a second click or tab imports nothing).
pub fn claim(conn: &mut DbConnection, member_id: i32, token: &str) -> AppResult<bool> {
    let claimed = diesel::update(
        ib::table
            .find(token)
            .filter(ib::member_id.eq(member_id))
            .filter(ib::done.eq(false)),
    )
    .set(ib::done.eq(true))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// How far the import of a confirmed batch has got.
pub fn set_progress(conn: &mut DbConnection, token: &str, done: i32, total: i32) -> AppResult<()> {
    diesel::update(ib::table.find(token))
        .set((ib::progress.eq(done), ib::total.eq(total)))
        .execute(conn)?;
    Ok(())
}

/// The import finished (or stopped): its outcome for the page. The rows are no longer needed.
pub fn finish(conn: &mut DbConnection, token: &str, summary: &str) -> AppResult<()> {
    diesel::update(ib::table.find(token))
        .set((ib::summary.eq(Some(summary)), ib::rows_csv.eq("")))
        .execute(conn)?;
    Ok(())
}

/// Keep the file of generated passwords (made at the confirmation) until its first download.
pub fn set_download(conn: &mut DbConnection, token: &str, xlsx: &[u8]) -> AppResult<()> {
    diesel::update(ib::table.find(token))
        .set(ib::download.eq(Some(xlsx)))
        .execute(conn)?;
    Ok(())
}

/// The file name and the password file of this member's batch, removed as it is read: it can
/// be taken once.
pub fn take_download(
    conn: &mut DbConnection,
    member_id: i32,
    token: &str,
) -> AppResult<Option<(String, Vec<u8>)>> {
    let found: Option<(String, Option<Vec<u8>>)> = ib::table
        .find(token)
        .filter(ib::member_id.eq(member_id))
        .select((ib::file_name, ib::download))
        .first(conn)
        .optional()?;
    let Some((file_name, Some(bytes))) = found else {
        return Ok(None);
    };
    let taken = diesel::update(
        ib::table
            .find(token)
            .filter(ib::member_id.eq(member_id))
            .filter(ib::download.is_not_null()),
    )
    .set(ib::download.eq(None::<Vec<u8>>))
    .execute(conn)?;
    Ok((taken == 1).then_some((file_name, bytes)))
}

/// Batches older than a day are removed with any password file not downloaded (background job).
pub fn purge(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    let cutoff = crate::time::minus(now, chrono::Duration::days(1));
    Ok(diesel::delete(ib::table.filter(ib::created_at.lt(cutoff))).execute(conn)?)
}
