//! 普惠 · 帮扶 · 慰问 benefits: the catalogue, member applications, the approval chain with
//! budget checks, and payout by finance.

mod actions;
pub mod admin;
pub mod catalogue;
pub mod handlers;
pub mod model;
pub mod service;

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    handlers::routes(cfg);
    admin::routes(cfg);
}
