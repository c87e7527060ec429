//! 活动 activities: cadres publish them to org subtrees; members sign up (waitlist when full),
//! check in at the venue by scanning a QR code that changes every 30 s, and rate them after.

pub mod admin;
pub mod handlers;
pub mod model;
pub mod service;

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    handlers::routes(cfg);
    admin::routes(cfg);
}
