//! `/metrics` for operators (issue 34): the instance's counters (`crate::metrics`) and what is
//! read at scrape time — the pool, the outbox's queue, resident memory — in the Prometheus text
//! format. Only with `ZHIJIA_METRICS_TOKEN` set, and only for `Authorization: Bearer <token>`;
//! otherwise the path does not exist (404), as before.

use std::fmt::Write as _;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let Some(token) = &state.config.metrics_token else {
        return Err(AppError::NotFound);
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compared as digests: the time taken says nothing about how much of the token matched.
    if crate::auth::digest(&[given.as_bytes()]) != crate::auth::digest(&[token.0.as_bytes()]) {
        return Ok(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .finish());
    }
    let (depths, unplanned) = db::run(&state.pool, crate::outbox::model::depths).await?;
    let mut out = String::with_capacity(16 * 1024);
    state.metrics.write(&mut out);
    let pool = state.pool.state();
    gauge(
        &mut out,
        "zhijia_db_pool_connections",
        "Database connections open and idle.",
        &[
            ("state=\"open\"", u64::from(pool.connections)),
            ("state=\"idle\"", u64::from(pool.idle_connections)),
        ],
    );
    gauge(
        &mut out,
        "zhijia_db_pool_free_turns",
        "Requests that could take a connection right now without waiting.",
        &[("", state.pool.free_turns() as u64)],
    );
    out.push_str("# HELP zhijia_db_pool_wait_seconds Time a request waited for a connection.\n");
    out.push_str("# TYPE zhijia_db_pool_wait_seconds histogram\n");
    state
        .pool
        .waits()
        .write(&mut out, "zhijia_db_pool_wait_seconds", "");
    let mut queue: Vec<(String, u64)> = depths
        .iter()
        .map(|(s, n)| (format!("state=\"{s}\""), u64::try_from(*n).unwrap_or(0)))
        .collect();
    queue.push((
        "state=\"unplanned\"".into(),
        u64::try_from(unplanned).unwrap_or(0),
    ));
    let queue: Vec<(&str, u64)> = queue.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    gauge(
        &mut out,
        "zhijia_outbox_queue",
        "Outbox deliveries waiting or in flight, by state; messages not yet planned.",
        &queue,
    );
    if let Some(rss) = resident_bytes() {
        gauge(
            &mut out,
            "zhijia_process_resident_memory_bytes",
            "Resident memory of this instance.",
            &[("", rss)],
        );
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out))
}

fn gauge(out: &mut String, name: &str, help: &str, values: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, v) in values {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {v}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

/// Resident set size from `/proc/self/statm` (Linux; None elsewhere).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    pages.checked_mul(4096)
}
