//! Multipart forms with files: the CSRF check of `Form`, limits on size and count, and file types
//! decided from the bytes, never from the name or the browser's claim.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_multipart::Multipart;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;

use crate::error::AppError;

pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Files one form may carry (showcase posts take 9 photos; case attachments stop at 5).
pub const MAX_FILES: usize = 9;
pub const MAX_ATTACHMENTS: usize = 5;
const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Everything a multipart request may carry (nine phone photos fit), checked from the
/// Content-Length header first and again while the body streams.
pub const MAX_TOTAL_BYTES: usize = 40 * 1024 * 1024;
/// Parts (fields and files) a form may have; the largest real form has a few dozen.
pub const MAX_PARTS: usize = 64;

/// A received file that passed the size limit (its type is checked by `sniff`).
pub struct Upload {
    pub filename: String,
    pub data: Vec<u8>,
}

/// A multipart form whose CSRF token has been checked. Problems with files (too many, too big)
/// are collected in `file_errors` so the handler can show the form again, filled in.
pub struct MultipartForm {
    pub fields: HashMap<String, String>,
    pub files: Vec<Upload>,
    /// The input name each file in `files` came from (same order).
    pub file_fields: Vec<String>,
    pub file_errors: Vec<String>,
}

/// A checked attachment: (file name, mime decided from the bytes, bytes).
pub type TypedFile = (String, &'static str, Vec<u8>);

impl MultipartForm {
    pub fn text(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }

    /// The files whose bytes are JPEG, PNG or PDF; every other file, and every size or count
    /// problem, becomes an error on the `files` field.
    pub fn typed_files(self, errors: &mut crate::web::FieldErrors) -> Vec<TypedFile> {
        for e in self.file_errors {
            errors.add("files", e);
        }
        if self.files.len() > MAX_ATTACHMENTS {
            errors.add("files", format!("最多上传 {MAX_ATTACHMENTS} 个附件"));
            return Vec::new();
        }
        let mut files = Vec::new();
        for f in self.files {
            match sniff(&f.data) {
                Some((mime, _)) => files.push((f.filename, mime, f.data)),
                None => errors.add(
                    "files",
                    format!(
                        "“{}”不是 JPEG、PNG 或 PDF 文件（按文件内容判断），请换一个文件",
                        f.filename
                    ),
                ),
            }
        }
        files
    }
}

/// The types people may attach: (mime, extension).
pub fn sniff(data: &[u8]) -> Option<(&'static str, &'static str)> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if data.starts_with(b"%PDF-") {
        Some(("application/pdf", "pdf"))
    } else {
        None
    }
}

/// A display file name without path parts or control characters, at most 80 characters.
pub fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(80).collect();
    if cleaned.trim().is_empty() {
        "附件".into()
    } else {
        cleaned
    }
}

/// Bytes of multipart bodies held in memory at once, over all requests: enough for one
/// largest form and a few small ones. Each request reserves its declared length (in KiB) before
/// reading, so a crowd of large uploads waits its turn instead of filling the memory.
const BUDGET_KIB: usize = 48 * 1024;
static BUDGET: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BUDGET_KIB);

/// Wait (up to 30 s) for room to receive `declared` bytes; the permit is held while the body is
/// read and parsed.
async fn reserve(declared: u64) -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    let kib = u32::try_from(declared.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let wait = BUDGET.acquire_many(kib);
    match actix_web::rt::time::timeout(std::time::Duration::from_secs(30), wait).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(AppError::TooManyRequests(
            "当前上传的人较多，请稍后再试".into(),
        )),
    }
}

fn too_large() -> AppError {
    AppError::PayloadTooLarge(format!(
        "上传的内容合计不能超过 {} MB",
        MAX_TOTAL_BYTES / (1024 * 1024)
    ))
}

/// Read every part of a body of `declared` bytes within the part, size and file limits.
async fn read_parts(multipart: &mut Multipart, declared: u64) -> Result<MultipartForm, AppError> {
    let mut form = MultipartForm {
        fields: HashMap::new(),
        files: Vec::new(),
        file_fields: Vec::new(),
        file_errors: Vec::new(),
    };
    let mut total: usize = 0;
    let mut parts: usize = 0;
    while let Some(field) = multipart.next().await {
        let mut field =
            field.map_err(|_| AppError::Validation("上传的内容格式不正确，请重试".into()))?;
        parts = parts.saturating_add(1);
        if parts > MAX_PARTS {
            return Err(AppError::PayloadTooLarge("表单项过多".into()));
        }
        let name = field.name().unwrap_or("").to_string();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_string);
        let limit = if filename.is_some() {
            MAX_FILE_BYTES
        } else {
            MAX_TEXT_BYTES
        };
        let (data, too_big) = read_part(&mut field, declared, limit, &mut total).await?;
        form.keep(name, filename, data, too_big)?;
    }
    Ok(form)
}

/// One part's bytes (up to `limit`; `true` when it was longer), counting into the body's total.
async fn read_part(
    field: &mut actix_multipart::Field,
    declared: u64,
    limit: usize,
    total: &mut usize,
) -> Result<(Vec<u8>, bool), AppError> {
    // Room for the whole part up front (at most its limit, and no more than the body can
    // hold): growing by doubling would copy, holding old and new at once. Capacity never
    // written is never resident.
    let room = usize::try_from(declared).map_or(limit, |d| d.min(limit));
    let mut data = Vec::with_capacity(room);
    let mut too_big = false;
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|_| AppError::Validation("上传中断，请重试".into()))?;
        *total = total.saturating_add(chunk.len());
        if *total > MAX_TOTAL_BYTES {
            return Err(too_large());
        }
        if data.len().saturating_add(chunk.len()) > limit {
            too_big = true;
        } else if !too_big {
            data.extend_from_slice(&chunk);
        }
    }
    Ok((data, too_big))
}

impl MultipartForm {
    /// File a part read: a file (or its error, shown with the form) or a text field.
    fn keep(
        &mut self,
        name: String,
        filename: Option<String>,
        data: Vec<u8>,
        too_big: bool,
    ) -> Result<(), AppError> {
        match filename {
            Some(f) if f.is_empty() && data.is_empty() => {} // an empty file input
            Some(f) => {
                let f = clean_filename(&f);
                if too_big {
                    self.file_errors.push(format!("“{f}”超过 10 MB"));
                } else if self.files.len() >= MAX_FILES {
                    self.file_errors
                        .push(format!("最多上传 {MAX_FILES} 个文件"));
                } else {
                    self.files.push(Upload { filename: f, data });
                    self.file_fields.push(name);
                }
            }
            None => {
                if too_big {
                    return Err(AppError::Validation("填写的内容过长".into()));
                }
                let text = String::from_utf8(data)
                    .map_err(|_| AppError::Validation("提交的内容含有非法字符".into()))?;
                if text.contains('\0') {
                    return Err(AppError::Validation("提交的内容含有非法字符".into()));
                }
                self.fields.insert(name, text);
            }
        }
        Ok(())
    }
}

impl FromRequest for MultipartForm {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut multipart = Multipart::new(req.headers(), payload.take());
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        Box::pin(async move {
            // Browsers always declare a form's length; a body without one could only be
            // measured by reading it, so it is refused before anything is read.
            let Some(declared) = declared else {
                return Err(AppError::LengthRequired);
            };
            if declared > MAX_TOTAL_BYTES as u64 {
                return Err(too_large());
            }
            crate::auth::csrf::check_origin(&req)?;
            let _budget = reserve(declared).await?;
            // A body trickled in slowly would hold its share of the budget for ever: the whole
            // form must arrive within two minutes (10 MB at 1 Mbit/s takes about 80 s).
            let mut form =
                actix_web::rt::time::timeout(std::time::Duration::from_secs(120), async {
                    read_parts(&mut multipart, declared).await
                })
                .await
                .map_err(|_| AppError::Validation("上传用时过长，请检查网络后重试".into()))??;
            let sent = form.fields.get("csrf_token").cloned().unwrap_or_default();
            let expected = crate::auth::csrf::expected_token(&req).await?;
            if sent.is_empty() || !crate::auth::constant_time_eq(&sent, &expected) {
                return Err(AppError::Csrf);
            }
            form.file_errors.dedup();
            Ok(form)
        })
    }
}
