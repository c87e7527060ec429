//! Notifications outside the portal (issue 33): every notification a person should get on
//! WeCom, WeChat, SMS or e-mail is an outbox message written by `notifications::notify` in the
//! transaction of the change it reports; the sender (one per cluster, under a lease) plans,
//! paces, sends and retries. Anonymous cases and letters never reach it (`Out::Never`).

pub mod adapters;
pub mod demo;
pub mod http;
pub mod kind;
pub mod model;
pub mod plan;
pub mod sender;

pub use kind::{Channel, Kind, Out};
