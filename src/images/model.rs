//! Stored images, owned by a news article ("news") or a showcase post ("showcase").

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Processed;
use crate::db::schema::images;
use crate::db::DbConnection;
use crate::error::AppResult;

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = images)]
pub struct ImageMeta {
    pub id: i32,
    pub width: i32,
    pub height: i32,
}

pub fn insert(
    conn: &mut DbConnection,
    owner: (&str, i32),
    position: i32,
    img: &Processed,
    at: NaiveDateTime,
) -> AppResult<i32> {
    Ok(diesel::insert_into(images::table)
        .values((
            images::owner_type.eq(owner.0),
            images::owner_id.eq(owner.1),
            images::position.eq(position),
            images::width.eq(img.width),
            images::height.eq(img.height),
            images::data.eq(&img.data),
            images::thumb.eq(&img.thumb),
            images::created_at.eq(at),
        ))
        .returning(images::id)
        .get_result(conn)?)
}

pub fn list(conn: &mut DbConnection, owner: (&str, i32)) -> AppResult<Vec<ImageMeta>> {
    Ok(images::table
        .filter(images::owner_type.eq(owner.0))
        .filter(images::owner_id.eq(owner.1))
        .order(images::position.asc())
        .select(ImageMeta::as_select())
        .load(conn)?)
}

/// The bytes of one image of `owner` (the thumbnail or the full picture).
pub fn bytes(
    conn: &mut DbConnection,
    owner: (&str, i32),
    id: i32,
    thumb: bool,
) -> AppResult<Option<Vec<u8>>> {
    let q = images::table
        .filter(images::id.eq(id))
        .filter(images::owner_type.eq(owner.0))
        .filter(images::owner_id.eq(owner.1));
    Ok(if thumb {
        q.select(images::thumb).first(conn).optional()?
    } else {
        q.select(images::data).first(conn).optional()?
    })
}
