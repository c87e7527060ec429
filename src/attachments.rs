//! Files attached to cases (grievances, benefit requests), stored in the database so every
//! backend and every instance sees them. Served only by handlers that check access first.

use actix_web::http::header;
use actix_web::HttpResponse;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::attachments;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

pub use crate::web::upload::TypedFile;

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
    let encoded = crate::text::url_encode(filename).replace('/', "%2F");
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type.to_string()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"attachment\"; filename*=UTF-8''{encoded}"),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(data)
}

/// The files of a case form, checked (`typed_files`) and then scrubbed; problems go to
/// `errors` under "files" and no file is returned then.
pub async fn case_files(
    mp: crate::web::upload::MultipartForm,
    errors: &mut crate::forms::FieldErrors,
    anonymous: bool,
) -> AppResult<Vec<TypedFile>> {
    let files = mp.typed_files(errors);
    if !errors.is_empty() {
        return Ok(Vec::new());
    }
    Ok(match scrub(files, anonymous).await? {
        Ok(f) => f,
        Err(msgs) => {
            msgs.into_iter().for_each(|m| errors.add("files", m));
            Vec::new()
        }
    })
}

/// Make a case's files safe to store. Photos are always re-encoded (EXIF with GPS, device and
/// capture time gone); in anonymous cases PDFs also lose their document information and XMP
/// metadata, and every file is renamed `附件1.jpg`, `附件2.pdf`… so nothing points back to the
/// member. `Err(messages)` is for the person who uploaded (shown next to the field).
pub async fn scrub(
    files: Vec<TypedFile>,
    anonymous: bool,
) -> AppResult<Result<Vec<TypedFile>, Vec<String>>> {
    if files.is_empty() {
        return Ok(Ok(files));
    }
    let _slot = crate::images::SLOTS
        .acquire()
        .await
        .map_err(|_| AppError::Internal("image slots closed".into()))?;
    actix_web::web::block(move || scrub_now(files, anonymous))
        .await
        .map_err(|e| AppError::Internal(format!("attachment worker: {e}")))
}

/// The synchronous part of `scrub`.
pub fn scrub_now(files: Vec<TypedFile>, anonymous: bool) -> Result<Vec<TypedFile>, Vec<String>> {
    let mut out = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for (n, (name, mime, data)) in (1..).zip(files) {
        let stored_name = |ext: &str| {
            if anonymous {
                format!("附件{n}.{ext}")
            } else {
                let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
                format!("{stem}.{ext}")
            }
        };
        match mime {
            "image/jpeg" | "image/png" => {
                match std::panic::catch_unwind(|| crate::images::scrub_photo(&name, &data)) {
                    Ok(Ok(jpeg)) => out.push((stored_name("jpg"), "image/jpeg", jpeg)),
                    Ok(Err(m)) => errors.push(m),
                    Err(_) => errors.push(format!("“{name}”无法读取，请换一张图片")),
                }
            }
            "application/pdf" if anonymous => match std::panic::catch_unwind(|| strip_pdf(&data)) {
                Ok(Some(pdf)) => out.push((stored_name("pdf"), mime, pdf)),
                _ => errors.push(format!(
                    "无法清除“{name}”中的作者等文档属性（文件可能已加密或已损坏）。\
                         匿名申诉请改为上传截图，或另存为新的 PDF 后再试"
                )),
            },
            _ => out.push((stored_name("pdf"), mime, data)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A PDF without its document information dictionary (Author, Creator, dates…) and without XMP
/// metadata on any object, rewritten so no earlier revision survives. None if the file cannot
/// be read, is encrypted, or still names an author afterwards.
pub fn strip_pdf(data: &[u8]) -> Option<Vec<u8>> {
    use lopdf::{Document, LoadOptions, Object};
    let options = LoadOptions::with_max_decompressed_size(32 * 1024 * 1024);
    let mut doc = Document::load_mem_with_options(data, options).ok()?;
    if doc.is_encrypted() {
        return None;
    }
    doc.trailer.remove(b"Info");
    // The file identifier is derived from the authoring machine and time by some writers.
    doc.trailer.remove(b"ID");
    doc.traverse_objects(|o| {
        let dict = match o {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &mut s.dict,
            _ => return,
        };
        dict.remove(b"Metadata");
        dict.remove(b"PieceInfo");
        // Annotations (comments, highlights) carry their author's name and the time.
        if dict.has(b"Subtype") && dict.has(b"Rect") {
            dict.remove(b"T");
            dict.remove(b"M");
            dict.remove(b"CreationDate");
        }
    });
    doc.prune_objects();
    let mut out = Vec::new();
    doc.save_to(&mut out).ok()?;
    // Belt and braces: what we store must read back without an information dictionary.
    let check = Document::load_mem(&out).ok()?;
    if check.trailer.get(b"Info").is_ok() || contains(&out, b"/Author") {
        return None;
    }
    Some(out)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
