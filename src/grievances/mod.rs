//! 维权申诉 grievances: members file cases (named or anonymous with a receipt code), cadres
//! handle them within time limits, overdue cases escalate to the parent unit.

pub mod admin;
pub mod handlers;
pub mod model;
pub mod service;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

pub fn routes(cfg: &mut web::ServiceConfig) {
    handlers::routes(cfg);
    admin::routes(cfg);
}

/// Send an attachment: download only, never rendered as a page of ours.
pub fn attachment_response(filename: &str, content_type: &str, data: Vec<u8>) -> HttpResponse {
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
