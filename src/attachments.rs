//! Files attached to cases (grievances, benefit requests), stored in the database so every
//! backend and every instance sees them. Served only by handlers that check access first.

use actix_web::http::header;
use actix_web::HttpResponse;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::attachments;
use crate::db::DbConnection;
use crate::error::AppResult;

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = attachments)]
pub struct AttachmentMeta {
    pub id: i32,
    pub filename: String,
    pub content_type: String,
    pub size: i32,
}

impl AttachmentMeta {
    pub fn size_label(&self) -> String {
        let s = f64::from(self.size);
        if s >= 1024.0 * 1024.0 {
            format!("{:.1} MB", s / 1024.0 / 1024.0)
        } else {
            format!("{:.0} KB", (s / 1024.0).max(1.0))
        }
    }
}

pub fn insert(
    conn: &mut DbConnection,
    owner: (&str, i32),
    filename: &str,
    content_type: &str,
    data: &[u8],
    at: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(attachments::table)
        .values((
            attachments::owner_type.eq(owner.0),
            attachments::owner_id.eq(owner.1),
            attachments::filename.eq(filename),
            attachments::content_type.eq(content_type),
            attachments::size.eq(data.len() as i32),
            attachments::data.eq(data),
            attachments::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn list(conn: &mut DbConnection, owner: (&str, i32)) -> AppResult<Vec<AttachmentMeta>> {
    Ok(crate::on_backend!(conn, c => attachments::table
        .filter(attachments::owner_type.eq(owner.0))
        .filter(attachments::owner_id.eq(owner.1))
        .order(attachments::id.asc())
        .select(AttachmentMeta::as_select())
        .load(c))?)
}

/// (file name, content type, bytes) of one attachment of `owner`.
pub fn data(
    conn: &mut DbConnection,
    owner: (&str, i32),
    id: i32,
) -> AppResult<Option<(String, String, Vec<u8>)>> {
    Ok(attachments::table
        .filter(attachments::id.eq(id))
        .filter(attachments::owner_type.eq(owner.0))
        .filter(attachments::owner_id.eq(owner.1))
        .select((
            attachments::filename,
            attachments::content_type,
            attachments::data,
        ))
        .first(conn)
        .optional()?)
}

/// Send an attachment: download only, never rendered as a page of ours.
pub fn response(filename: &str, content_type: &str, data: Vec<u8>) -> HttpResponse {
    let encoded = crate::web::url_encode(filename).replace('/', "%2F");
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type.to_string()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"attachment\"; filename*=UTF-8''{encoded}"),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(data)
}
