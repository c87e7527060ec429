//! Photos (news covers, showcase posts): every upload is decoded under limits and re-encoded as
//! JPEG, so EXIF, GPS and any smuggled payload are gone; a thumbnail is made at the same time.
//! Images are stored in the database (every instance sees them) and never change, so they are
//! served with year-long cache headers by the handlers of the feature that owns them (after that
//! feature's access check).

pub mod model;

use std::io::Cursor;

use actix_web::http::header;
use actix_web::HttpResponse;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::error::{AppError, AppResult};

/// Largest side accepted, and largest pixel count: a 20000×20000 PNG is refused from its header.
pub const MAX_SIDE: u32 = 8000;
pub const MAX_PIXELS: u64 = 40_000_000;
/// Stored sizes (long side).
const FULL_SIDE: u32 = 1600;
const THUMB_SIDE: u32 = 480;

/// A re-encoded image ready to store.
#[derive(Clone)]
pub struct Processed {
    pub width: i32,
    pub height: i32,
    pub data: Vec<u8>,
    pub thumb: Vec<u8>,
}

/// Decoding is CPU and memory heavy: at most two at a time in this process.
pub(crate) static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Check, decode and re-encode one upload off the async workers. `Err(message)` is for the
/// person who uploaded it (shown next to the field).
pub async fn process(name: String, bytes: Vec<u8>) -> AppResult<Result<Processed, String>> {
    let _slot = SLOTS
        .acquire()
        .await
        .map_err(|_| AppError::Internal("image slots closed".into()))?;
    actix_web::web::block(move || process_now(&name, &bytes))
        .await
        .map_err(|e| AppError::Internal(format!("image worker: {e}")))
}

/// The synchronous part of `process`; also used by the demo seeder.
pub fn process_now(name: &str, bytes: &[u8]) -> Result<Processed, String> {
    let img = decode(name, bytes)?;
    let full = if img.width() > FULL_SIDE || img.height() > FULL_SIDE {
        img.resize(FULL_SIDE, FULL_SIDE, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let thumb = full.thumbnail(THUMB_SIDE, THUMB_SIDE);
    Ok(Processed {
        width: full.width() as i32,
        height: full.height() as i32,
        data: jpeg(&full, 82)?,
        thumb: jpeg(&thumb, 78)?,
    })
}

/// A case's evidence photo at its own size, rotated upright and re-encoded as JPEG: EXIF (GPS,
/// device, capture time) and anything else the file carried are gone, the pixels stay sharp.
pub fn scrub_photo(name: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    jpeg(&decode(name, bytes)?, 90)
}

/// Check the header, then decode under limits and apply the EXIF orientation.
fn decode(name: &str, bytes: &[u8]) -> Result<DynamicImage, String> {
    let refuse = |why: &str| format!("“{name}”{why}");
    match crate::web::upload::sniff(bytes) {
        Some(("image/jpeg", _)) | Some(("image/png", _)) => {}
        _ => return Err(refuse("不是 JPEG 或 PNG 图片（按文件内容判断）")),
    }
    let reader = |bytes: &[u8]| {
        ImageReader::new(Cursor::new(bytes.to_vec()))
            .with_guessed_format()
            .map_err(|_| refuse("无法识别，请换一张图片"))
    };
    // Dimensions come from the header alone: nothing is decoded before they pass.
    let (w, h) = reader(bytes)?
        .into_dimensions()
        .map_err(|_| refuse("已损坏或无法读取，请换一张图片"))?;
    if w == 0
        || h == 0
        || w > MAX_SIDE
        || h > MAX_SIDE
        || u64::from(w).saturating_mul(u64::from(h)) > MAX_PIXELS
    {
        return Err(refuse(&format!(
            "尺寸为 {w}×{h} 像素，过大（最长边不超过 {MAX_SIDE} 像素，总像素不超过 4000 万）"
        )));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    let mut r = reader(bytes)?;
    r.limits(limits);
    let mut decoder = r
        .into_decoder()
        .map_err(|_| refuse("已损坏或无法读取，请换一张图片"))?;
    // Phones record rotation in EXIF; apply it before EXIF is dropped.
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder)
        .map_err(|_| refuse("已损坏或无法读取，请换一张图片"))?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(img)
}

/// Channel value `c` at opacity `a` over white: (c·a + 255·(255 − a)) / 255, at most 255.
fn over_white(c: u8, a: u8) -> u8 {
    let (c, a) = (u32::from(c), u32::from(a));
    let mixed = c
        .saturating_mul(a)
        .saturating_add(255u32.saturating_mul(255u32.saturating_sub(a)));
    u8::try_from(mixed / 255).unwrap_or(u8::MAX)
}

/// Flatten onto white (JPEG has no alpha) and encode. The encoder writes JFIF only: no EXIF.
fn jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>, String> {
    let rgb = if img.color().has_alpha() {
        let rgba = img.to_rgba8();
        let mut out = image::RgbImage::new(rgba.width(), rgba.height());
        for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
            let [r, g, b, a] = p.0;
            o.0 = [over_white(r, a), over_white(g, a), over_white(b, a)];
        }
        out
    } else {
        img.to_rgb8()
    };
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
        .encode_image(&rgb)
        .map_err(|e| format!("图片编码失败：{e}"))?;
    Ok(buf)
}

/// Send a stored image. Its URL names one immutable image, so browsers may keep it for a year;
/// `private` because access was checked for this viewer.
pub fn response(data: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/jpeg"))
        .insert_header((
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(data)
}
