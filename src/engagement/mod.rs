//! Engagement events: page views, item clicks, sign-ups, cancellations, check-ins, votes,
//! replies and likes, each with a pseudonymous member key, the member's unit, the object, the
//! hour (never the minute) and the device class. They are buffered in memory and written in
//! batches off the request path; a clean shutdown flushes the buffer. Anonymous grievance flows
//! and anonymous surveys never record anything.

pub mod dashboard;
pub mod model;

use std::sync::Mutex;

use actix_web::HttpRequest;
use chrono::{NaiveDateTime, Timelike};

use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::AppResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub member_key: String,
    pub unit_id: i32,
    pub object_type: &'static str,
    pub object_id: Option<i32>,
    pub action: &'static str,
    pub hour: NaiveDateTime,
    pub device: &'static str,
}

/// Phone or desktop, from the User-Agent.
pub fn device_of(req: &HttpRequest) -> &'static str {
    let ua = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ["Mobi", "Android", "iPhone", "iPad", "MicroMessenger"]
        .iter()
        .any(|k| ua.contains(k))
    {
        "phone"
    } else {
        "desktop"
    }
}

/// The member's pseudonymous key: stable per member, not reversible without the secret key.
pub fn member_key(secret: &[u8], member_id: i32) -> String {
    let hex = crate::auth::digest(&[secret, b"engagement", member_id.to_string().as_bytes()]);
    hex.get(..20).unwrap_or(&hex).to_string()
}

pub fn hour_of(t: NaiveDateTime) -> NaiveDateTime {
    t.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

/// An event as buffered in memory: the member id is turned into the pseudonymous key when the
/// buffer is written (off the request path); the id itself is never stored.
#[derive(Debug, Clone)]
struct Pending {
    member_id: i32,
    event: Event,
}

/// Events waiting to be written. `enabled = false` turns recording off (for measuring its cost).
pub struct EventBuffer {
    enabled: bool,
    /// Keys the member pseudonyms (the instance's secret key).
    secret: Vec<u8>,
    pending: Mutex<Vec<Pending>>,
}

impl EventBuffer {
    pub fn new(enabled: bool, secret: &[u8]) -> Self {
        EventBuffer {
            enabled,
            secret: secret.to_vec(),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Record one action of `user` on an object (no-op when recording is off).
    pub fn record(
        &self,
        user: &User,
        req: &HttpRequest,
        object: (&'static str, Option<i32>),
        action: &'static str,
        now: NaiveDateTime,
    ) {
        if !self.enabled {
            return;
        }
        let event = Event {
            member_key: String::new(),
            unit_id: user.unit_id,
            object_type: object.0,
            object_id: object.1,
            action,
            hour: hour_of(now),
            device: device_of(req),
        };
        if let Ok(mut p) = self.pending.lock() {
            p.push(Pending {
                member_id: user.id,
                event,
            });
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.lock().map_or(0, |p| p.len())
    }

    /// Write everything buffered in one transaction; on failure the events go back.
    pub fn flush(&self, conn: &mut DbConnection) -> AppResult<usize> {
        let pending: Vec<Pending> = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return Ok(0),
        };
        if pending.is_empty() {
            return Ok(0);
        }
        let secret = &self.secret;
        let mut keys: std::collections::HashMap<i32, String> = std::collections::HashMap::new();
        let rows: Vec<Event> = pending
            .iter()
            .map(|p| {
                let mut e = p.event.clone();
                e.member_key = keys
                    .entry(p.member_id)
                    .or_insert_with(|| member_key(secret, p.member_id))
                    .clone();
                e
            })
            .collect();
        match write_tx(conn, |conn| model::insert_many(conn, &rows)) {
            Ok(()) => Ok(rows.len()),
            Err(e) => {
                if let Ok(mut p) = self.pending.lock() {
                    let mut back = pending;
                    back.append(&mut p);
                    *p = back;
                }
                Err(e)
            }
        }
    }
}

/// Views and clicks, recorded by the site middleware after a page rendered for a logged-in
/// member. The object comes from the path; a click is a view of an item reached from a list.
/// Grievance pages and survey pages are left out here (surveys record their own, named only).
pub fn page_event(
    path: &str,
    referer: Option<&str>,
) -> Option<((&'static str, Option<i32>), &'static str)> {
    let mut parts = path.trim_matches('/').split('/');
    let first = parts.next().unwrap_or("");
    let id = parts.next().and_then(|s| s.parse::<i32>().ok());
    let extra = parts.next();
    if extra.is_some() {
        return None;
    }
    let kind: &'static str = match first {
        "" => "home",
        "news" => "news",
        "activities" => "activity",
        "showcase" => "showcase",
        "search" => "search",
        "services" => "services",
        _ => return None,
    };
    match id {
        None if first.is_empty() || parts_is_list(first) => Some(((kind, None), "view")),
        None => None,
        Some(id) => {
            let from_list = referer.is_some_and(|r| {
                let p = r.split_once("://").map_or(r, |(_, rest)| rest);
                let p = p.find('/').and_then(|i| p.get(i..)).unwrap_or("/");
                let p = p.split('?').next().unwrap_or(p);
                p == "/" || p == format!("/{first}") || p == "/search"
            });
            Some(((kind, Some(id)), if from_list { "click" } else { "view" }))
        }
    }
}

fn parts_is_list(first: &str) -> bool {
    matches!(
        first,
        "news" | "activities" | "showcase" | "search" | "services"
    )
}

/// Records actions of the request's (already loaded) user from a handler:
/// `track.record(("activity", Some(id)), "signup")`.
pub struct Track(HttpRequest);

impl actix_web::FromRequest for Track {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;
    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(Track(req.clone())))
    }
}

impl Track {
    pub fn record(&self, object: (&'static str, Option<i32>), action: &'static str) {
        let Some(user) = crate::auth::user::loaded_user(&self.0) else {
            return;
        };
        let state = self
            .0
            .app_data::<actix_web::web::Data<crate::state::AppState>>();
        let events = self.0.app_data::<actix_web::web::Data<EventBuffer>>();
        if let (Some(state), Some(events)) = (state, events) {
            let now = state.config.clock.now();
            events.record(&user, &self.0, object, action, now);
        }
    }
}

/// Raw events are kept this many months unless the setting `events_retention_months` says
/// otherwise; daily rollups are kept.
pub const DEFAULT_RETENTION_MONTHS: u32 = 24;

/// The first Beijing day not rolled up yet at `now`: a day is rolled up five minutes after it
/// ends, when every instance has flushed its buffered events of that day.
pub fn rollup_horizon(now: NaiveDateTime) -> chrono::NaiveDate {
    crate::time::beijing_date(&crate::time::minus(now, chrono::Duration::minutes(5)))
}

/// The daily housekeeping (run under a lease by one instance): roll up every finished Beijing
/// day not rolled up yet (at most the last 400), then drop raw events past retention.
pub fn housekeeping(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<(usize, usize)> {
    let today = rollup_horizon(now);
    let from = match model::last_rolled_day(conn)? {
        Some(d) => d.succ_opt().unwrap_or(d),
        None => today
            .checked_sub_signed(chrono::Duration::days(400))
            .unwrap_or(today),
    };
    let mut days = 0usize;
    let mut d = from;
    while d < today {
        write_tx(conn, |conn| model::rollup_day(conn, d))?;
        days = days.saturating_add(1);
        d = d.succ_opt().unwrap_or(today);
    }
    let months = crate::settings::get_u32(conn, "events_retention_months")?
        .unwrap_or(DEFAULT_RETENTION_MONTHS);
    let cutoff = crate::time::minus(
        now,
        chrono::Duration::days(i64::from(months).saturating_mul(30)),
    );
    let purged = write_tx(conn, |conn| model::purge_before(conn, cutoff))?;
    Ok((days, purged))
}
