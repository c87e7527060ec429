//! Small key-value settings kept in the database, so every instance sees the same values.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::settings;
use crate::db::DbConnection;
use crate::error::AppResult;

pub fn get(conn: &mut DbConnection, key: &str) -> AppResult<Option<String>> {
    Ok(settings::table
        .find(key)
        .select(settings::value)
        .first(conn)
        .optional()?)
}

pub fn get_u32(conn: &mut DbConnection, key: &str) -> AppResult<Option<u32>> {
    Ok(get(conn, key)?.and_then(|v| v.parse().ok()))
}

/// Insert or replace (portable: update, then insert when nothing was there).
pub fn set(conn: &mut DbConnection, key: &str, value: &str, now: NaiveDateTime) -> AppResult<()> {
    let n = diesel::update(settings::table.find(key))
        .set((settings::value.eq(value), settings::updated_at.eq(now)))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(settings::table)
            .values((
                settings::key.eq(key),
                settings::value.eq(value),
                settings::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
