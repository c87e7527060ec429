//! 风采展示 showcase: members post up to 9 photos with a story; a cadre of their unit approves
//! or rejects it before anyone else sees it; likes, comments, featured posts on the home page.

pub mod access;
pub mod admin;
pub mod handlers;
pub mod model;
pub mod service;

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    handlers::routes(cfg);
    admin::routes(cfg);
}
