//! 调研 surveys and polls: cadres write questions as text, members answer once (also when
//! anonymous), results are tallied from the raw answers and drawn as SVG on the server.

pub mod admin;
pub mod handlers;
pub mod model;
pub mod service;

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    handlers::routes(cfg);
    admin::routes(cfg);
}
