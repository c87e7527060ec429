//! zhijia (职工之家): the trade union's online staff home. One binary, SQLite or PostgreSQL.

pub mod activities;
pub mod app;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod benefits;
pub mod cadre;
pub mod cli;
pub mod comments;
pub mod config;
pub mod db;
pub mod demo;
pub mod engagement;
pub mod error;
pub mod forecast;
pub mod forms;
pub mod grievances;
pub mod home;
pub mod images;
pub mod invariants;
pub mod members;
pub mod membership;
pub mod news;
pub mod notifications;
pub mod org;
pub mod search;
pub mod settings;
pub mod showcase;
pub mod state;
pub mod surveys;
pub mod text;
pub mod time;
pub mod web;
pub mod workflow;

pub use app::{app, build_state, configure, AppState, Instance};
pub use config::Config;
