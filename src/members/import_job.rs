//! A roster import in parts: each part of `CHUNK` rows runs in a `db::run` of its own, so a
//! file of 100,000 rows never holds a pooled connection for more than a moment and members'
//! pages keep their turn. A confirmed batch larger than one part is imported by a background
//! task whose progress the page shows (kept in `import_batches`, so any instance can show it).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::NaiveDateTime;

use super::batches;
use super::import::{self, Generated, ImportReport, ImportRun, Passwords};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::config::HashCost;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Rows per part: small enough that a part takes a fraction of a second.
pub const CHUNK: usize = 500;

/// Import parts running at once in this instance, however many imports there are: the other
/// connections of the pool stay free for members' pages (measured in docs/performance.md).
static PARTS_AT_ONCE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Where new members' initial passwords come from (owned, so a part can move to a thread).
#[derive(Clone)]
pub enum Pw {
    /// What the file says (the upload's preview, which hashes nothing).
    Plain(HashCost),
    /// A stored batch: sealed passwords, and activation codes made at the confirmation.
    Sealed(Arc<Generated>),
}

/// One run over a file's rows.
#[derive(Clone)]
pub struct Job {
    pub user: Arc<User>,
    pub ip: Option<String>,
    pub now: NaiveDateTime,
    /// Header first.
    pub rows: Arc<Vec<Vec<String>>>,
    pub passwords: Pw,
    pub preview: bool,
    /// The batch whose progress is kept, for an import.
    pub token: Option<String>,
}

impl Job {
    fn how(&self) -> ImportRun<'_> {
        ImportRun {
            passwords: match &self.passwords {
                Pw::Plain(c) => Passwords::Plain(*c),
                Pw::Sealed(g) => Passwords::Sealed(g),
            },
            now: self.now,
            by: Some((&self.user, self.ip.clone())),
            preview: self.preview,
        }
    }

    /// Data rows in the file.
    pub fn total(&self) -> usize {
        self.rows.len().saturating_sub(1)
    }
}

fn merge(into: &mut ImportReport, part: ImportReport) {
    into.created = into.created.saturating_add(part.created);
    into.updated = into.updated.saturating_add(part.updated);
    into.unchanged = into.unchanged.saturating_add(part.unchanged);
    into.errors.extend(part.errors);
    into.passwords.extend(part.passwords);
    into.lines.extend(part.lines);
    into.to_generate.extend(part.to_generate);
}

/// Run the job part by part, each part on a connection of its own (progress kept after each).
pub async fn run_in_parts(state: &AppState, job: &Job) -> AppResult<ImportReport> {
    if job.rows.is_empty() {
        return Err(AppError::Validation("文件是空的".into()));
    }
    let total = job.total();
    let mut report = ImportReport::default();
    let mut seen = HashSet::new();
    let mut start = 0usize;
    loop {
        let end = start.saturating_add(CHUNK).min(total);
        let j = job.clone();
        let _turn = PARTS_AT_ONCE
            .acquire()
            .await
            .map_err(|_| AppError::Internal("import slots closed".into()))?;
        let (part, back) = db::run(&state.pool, move |conn| {
            let mut seen = seen;
            let mut part = ImportReport::default();
            let (header, data) = j.rows.split_first().ok_or(AppError::NotFound)?;
            let slice = data.get(start..end).unwrap_or_default();
            let how = j.how();
            import::run_part(
                conn,
                header,
                slice,
                start,
                &how,
                &mut seen,
                &mut part,
                &mut |_| {},
            )?;
            if let Some(t) = &j.token {
                let n = |x: usize| i32::try_from(x).unwrap_or(i32::MAX);
                batches::set_progress(conn, t, n(end), n(total))?;
            }
            Ok((part, seen))
        })
        .await?;
        merge(&mut report, part);
        seen = back;
        if end >= total {
            return Ok(report);
        }
        start = end;
    }
}

/// Import a confirmed batch: check its rows again (a preview), make the activation codes, write
/// in parts, audit the file, keep the codes' sheet for one download, and record the outcome.
pub async fn import_batch(state: &AppState, job: Job, file_name: &str) -> AppResult<ImportReport> {
    let token = job.token.clone().unwrap_or_default();
    let plan = run_in_parts(
        state,
        &Job {
            preview: true,
            token: None,
            passwords: Pw::Sealed(Arc::new(Generated::new())),
            ..job.clone()
        },
    )
    .await?;
    let generated = Arc::new(import::generate_passwords(plan.to_generate));
    let job = Job {
        passwords: Pw::Sealed(generated),
        ..job
    };
    let report = run_in_parts(state, &job).await?;
    let (user, ip, now) = (job.user.clone(), job.ip.clone(), job.now);
    let detail = format!("名册“{file_name}”：{}", counts_line(&report));
    let summary = summary_csv(&report)?;
    let rows: Vec<Vec<String>> = report
        .passwords
        .iter()
        .map(|(no, name, pw)| vec![no.clone(), name.clone(), pw.clone()])
        .collect();
    let xlsx = if rows.is_empty() {
        None
    } else {
        Some(actix_web::web::block(move || super::import_admin::passwords_xlsx(&rows)).await??)
    };
    db::run(&state.pool, move |conn| {
        db::write_tx(conn, |conn| {
            audit::record(
                conn,
                &Actor::user(&user, ip, now),
                Some(user.unit_id),
                crate::audit::AuditAction::MemberImport,
                ("import", None),
                &detail,
            )?;
            if let Some(x) = &xlsx {
                batches::set_download(conn, &token, x)?;
            }
            batches::finish(conn, &token, &summary)
        })
    })
    .await?;
    Ok(report)
}

/// Start the import of a confirmed batch in the background; a failure is kept as its outcome.
pub fn spawn(state: actix_web::web::Data<AppState>, job: Job, file_name: String) {
    actix_web::rt::spawn(async move {
        let token = job.token.clone().unwrap_or_default();
        if let Err(e) = import_batch(&state, job, &file_name).await {
            log::warn!("roster import {file_name} stopped: {e}");
            let msg = format!("导入中断，已导入的行保留；请重新上传名册继续。（{e}）");
            let line = summary_line(&[&msg]);
            let res = db::run(&state.pool, move |conn| {
                batches::finish(conn, &token, &line)
            })
            .await;
            if let Err(e) = res {
                log::warn!("recording the stopped import failed: {e}");
            }
        }
    });
}

pub fn counts_line(r: &ImportReport) -> String {
    format!(
        "新建 {} 人，更新 {} 人，未变 {} 人，错误 {} 行",
        r.created,
        r.updated,
        r.unchanged,
        r.errors.len()
    )
}

fn summary_line(cells: &[&str]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(cells);
    w.into_inner()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The outcome as CSV: the counts line, then (row, reason) per error.
fn summary_csv(r: &ImportReport) -> AppResult<String> {
    let mut out = summary_line(&[&counts_line(r)]);
    for (line, msg) in &r.errors {
        out.push_str(&summary_line(&[&line.to_string(), msg]));
    }
    Ok(out)
}

/// A recorded outcome back: (the counts line, [(row, reason)]).
pub fn read_summary(text: &str) -> (String, Vec<(String, String)>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = r.records().filter_map(Result::ok);
    let head = records
        .next()
        .and_then(|h| h.get(0).map(str::to_string))
        .unwrap_or_default();
    let errors = records
        .map(|e| {
            (
                e.get(0).unwrap_or_default().to_string(),
                e.get(1).unwrap_or_default().to_string(),
            )
        })
        .collect();
    (head, errors)
}
