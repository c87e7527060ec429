//! Members: the roster, account changes, roles and grid assignment, and the roster import.

pub mod admin;
pub mod batches;
pub mod import;
pub mod import_admin;
pub mod import_job;
pub mod model;
pub mod mydata;
pub mod service;
