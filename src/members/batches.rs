//! The `import_batches` table: a roster uploaded in the admin area waits here between its
//! preview and the confirmation, and the new members' initial passwords wait here until they
//! are downloaded once (or the batch is a day old).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::import_batches as ib;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// A batch as its owner sees it.
pub struct Batch {
    pub file_name: String,
    pub rows_csv: String,
    pub done: bool,
    pub has_passwords: bool,
}

/// A batch of this member's, else NotFound.
pub fn find(conn: &mut DbConnection, member_id: i32, token: &str) -> AppResult<Batch> {
    let (file_name, rows_csv, done, has_passwords) = ib::table
        .find(token)
        .filter(ib::member_id.eq(member_id))
        .select((
            ib::file_name,
            ib::rows_csv,
            ib::done,
            ib::passwords_csv.is_not_null(),
        ))
        .first::<(String, String, bool, bool)>(conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
    Ok(Batch {
        file_name,
        rows_csv,
        done,
        has_passwords,
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

pub fn set_passwords(conn: &mut DbConnection, token: &str, csv: Option<&str>) -> AppResult<()> {
    diesel::update(ib::table.find(token))
        .set(ib::passwords_csv.eq(csv))
        .execute(conn)?;
    Ok(())
}

/// The passwords of this member's batch, removed as they are read: they can be taken once.
pub fn take_passwords(
    conn: &mut DbConnection,
    member_id: i32,
    token: &str,
) -> AppResult<Option<String>> {
    let text: Option<String> = ib::table
        .find(token)
        .filter(ib::member_id.eq(member_id))
        .select(ib::passwords_csv)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten();
    let Some(text) = text else {
        return Ok(None);
    };
    let taken = diesel::update(
        ib::table
            .find(token)
            .filter(ib::passwords_csv.is_not_null()),
    )
    .set(ib::passwords_csv.eq(None::<String>))
    .execute(conn)?;
    Ok((taken == 1).then_some(text))
}

/// Batches older than a day are removed with any passwords not downloaded (background job).
pub fn purge(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    let cutoff = crate::time::minus(now, chrono::Duration::days(1));
    Ok(diesel::delete(ib::table.filter(ib::created_at.lt(cutoff))).execute(conn)?)
}
