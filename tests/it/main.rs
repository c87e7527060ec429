//! The one integration-test binary. Runs on SQLite; on PostgreSQL too when ZHIJIA_TEST_PG_URL is set.

// Tests may panic: a panic is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

mod builders;
mod fakes;
mod helpers;

mod a11y;
mod activities;
mod admin_members;
mod auth;
mod benefits;
mod browser;
mod csrf;
mod engagement;
mod forecast;
mod grievances;
mod hostile;
mod import;
mod invariants;
mod mailbox;
mod membership;
mod messy_history;
mod news;
mod org;
mod outbox;
mod personal_data;
mod platform;
mod privacy;
mod proposals;
mod props;
mod scope;
mod showcase;
mod smoke;
mod surveys;
