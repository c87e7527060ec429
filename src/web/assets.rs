//! Static files embedded in the binary and served under content-hashed names, so they can be
//! cached for a year and still change with each release.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

struct Manifest {
    /// logical name → hashed name
    urls: HashMap<String, String>,
    /// hashed name → logical name
    files: HashMap<String, String>,
}

// Derived from the embedded bytes only, so it is the same for every instance of one build.
static MANIFEST: LazyLock<Manifest> = LazyLock::new(|| {
    let mut urls = HashMap::new();
    let mut files = HashMap::new();
    for name in Static::iter() {
        let Some(file) = Static::get(&name) else {
            continue;
        };
        let digest = crate::auth::digest(&[&file.data]);
        let hash = digest.get(..10).unwrap_or(&digest);
        let hashed = match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
            None => format!("{name}.{hash}"),
        };
        urls.insert(name.to_string(), hashed.clone());
        files.insert(hashed, name.to_string());
    }
    Manifest { urls, files }
});

/// `/static/<hashed name>` for a logical file name such as `app.css`.
pub fn url(name: &str) -> String {
    match MANIFEST.urls.get(name) {
        Some(h) => format!("/static/{h}"),
        None => format!("/static/{name}"),
    }
}

pub async fn serve(path: web::Path<String>) -> HttpResponse {
    let requested = path.into_inner();
    let (logical, immutable) = match MANIFEST.files.get(&requested) {
        Some(l) => (l.clone(), true),
        None => (requested, false),
    };
    let Some(file) = Static::get(&logical) else {
        return HttpResponse::NotFound().finish();
    };
    let mime = file.metadata.mimetype().to_string();
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(file.data.into_owned())
}
