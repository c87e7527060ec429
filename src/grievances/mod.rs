//! 维权申诉 grievances: members file cases (named or anonymous with a receipt code), cadres
//! handle them within time limits, overdue cases escalate to the parent unit.

mod actions;
pub mod admin;
pub mod handlers;
pub mod model;
pub mod service;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    handlers::routes(cfg);
    admin::routes(cfg);
}

pub use crate::attachments::response as attachment_response;
