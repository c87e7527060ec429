//! What `/metrics` reports (issue 34), kept by this instance: requests and latency by route,
//! the time pages wait for a database connection, background rounds and their duration. Plain
//! atomics and one mutex, no crate: a request costs one short lock. Rendered in the Prometheus
//! text format by `web::metrics`, which adds the figures read at scrape time (queue depths,
//! pool state, resident memory).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds (the targets are 10 and 50 ms).
pub const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A latency histogram: a count per bucket (not cumulative; rendering sums them), the sum.
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; 12],
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .fold(0u64, u64::saturating_add)
    }

    /// `name_bucket{labels,le=…}`, `name_sum`, `name_count`. `labels` is `k="v",…` or "".
    pub fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut total = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            total = total.saturating_add(c.load(Ordering::Relaxed));
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {total}");
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {total}");
    }
}

/// One background job's rounds.
#[derive(Default)]
pub struct Job {
    pub rounds: u64,
    pub failures: u64,
    pub last_seconds: f64,
    pub duration: Arc<Histogram>,
}

#[derive(Default)]
struct Inner {
    /// (route pattern, method, status) → count.
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Arc<Histogram>>,
    jobs: BTreeMap<&'static str, Job>,
}

#[derive(Default)]
pub struct Registry {
    inner: Mutex<Inner>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One answered request. `route` is the matched pattern (`/news/{id}`), never the path,
    /// so the label set stays as small as the route table.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let hist = {
            let mut g = self.lock();
            let n = g
                .requests
                .entry((route.to_string(), method.to_string(), status))
                .or_default();
            *n = n.saturating_add(1);
            g.latency.entry(route.to_string()).or_default().clone()
        };
        hist.observe(took);
    }

    /// One round of a background job.
    pub fn job(&self, name: &'static str, ok: bool, took: Duration) {
        let hist = {
            let mut g = self.lock();
            let j = g.jobs.entry(name).or_default();
            j.rounds = j.rounds.saturating_add(1);
            if !ok {
                j.failures = j.failures.saturating_add(1);
            }
            j.last_seconds = took.as_secs_f64();
            j.duration.clone()
        };
        hist.observe(took);
    }

    /// How many requests of this route were answered (tests).
    pub fn requests_of(&self, route: &str) -> u64 {
        self.lock()
            .requests
            .iter()
            .filter(|((r, _, _), _)| r == route)
            .map(|(_, n)| *n)
            .fold(0u64, u64::saturating_add)
    }

    /// The counters in the text format.
    pub fn write(&self, out: &mut String) {
        let g = self.lock();
        out.push_str("# HELP zhijia_http_requests_total Requests answered, by route pattern, method and status.\n");
        out.push_str("# TYPE zhijia_http_requests_total counter\n");
        for ((route, method, status), n) in &g.requests {
            let _ = writeln!(
                out,
                "zhijia_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP zhijia_http_request_duration_seconds Time to answer, by route pattern.\n",
        );
        out.push_str("# TYPE zhijia_http_request_duration_seconds histogram\n");
        for (route, h) in &g.latency {
            let labels = format!("route=\"{}\"", escape(route));
            h.write(out, "zhijia_http_request_duration_seconds", &labels);
        }
        out.push_str("# HELP zhijia_job_rounds_total Background rounds run, by job.\n");
        out.push_str("# TYPE zhijia_job_rounds_total counter\n");
        for (name, j) in &g.jobs {
            let _ = writeln!(
                out,
                "zhijia_job_rounds_total{{job=\"{name}\"}} {}",
                j.rounds
            );
        }
        out.push_str(
            "# HELP zhijia_job_failures_total Background rounds that failed or panicked.\n",
        );
        out.push_str("# TYPE zhijia_job_failures_total counter\n");
        for (name, j) in &g.jobs {
            let _ = writeln!(
                out,
                "zhijia_job_failures_total{{job=\"{name}\"}} {}",
                j.failures
            );
        }
        out.push_str("# HELP zhijia_job_last_duration_seconds The last round's duration.\n");
        out.push_str("# TYPE zhijia_job_last_duration_seconds gauge\n");
        for (name, j) in &g.jobs {
            let _ = writeln!(
                out,
                "zhijia_job_last_duration_seconds{{job=\"{name}\"}} {}",
                j.last_seconds
            );
        }
        out.push_str("# HELP zhijia_job_duration_seconds Round durations, by job.\n");
        out.push_str("# TYPE zhijia_job_duration_seconds histogram\n");
        for (name, j) in &g.jobs {
            j.duration.write(
                out,
                "zhijia_job_duration_seconds",
                &format!("job=\"{name}\""),
            );
        }
    }
}

/// A label value: backslash, quote and newline escaped.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
