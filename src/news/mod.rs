//! 资讯 news: categories, Markdown articles for org-subtree audiences, pinned and scheduled
//! items, mandatory notices with read receipts, and search.

pub mod admin;
pub mod handlers;
pub mod model;
pub mod service;

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    handlers::routes(cfg);
    admin::routes(cfg);
}
