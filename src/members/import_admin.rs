//! Roster import in the admin area: upload a CSV or XLSX, see what each row would do, confirm,
//! then download the new members' initial passwords once. The same rules and code as the
//! command line import (`import::run`), limited to the units and members the cadre manages.
//! Parsing and password hashing run off the pool (the bounded hasher), never inside `db::run`;
//! no password is stored in plain text.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::batches;
use super::import::{self, Generated, ImportLine};
use super::import_job::{self, Job, Pw};
use crate::audit::{self, Actor};
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::upload::MultipartForm;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/members/import", web::get().to(form))
        .route("/admin/members/import", web::post().to(upload))
        .route("/admin/members/import/{token}", web::get().to(show))
        .route("/admin/members/import/{token}", web::post().to(confirm))
        .route(
            "/admin/members/import/{token}/passwords.xlsx",
            web::get().to(passwords),
        );
}

#[derive(Template)]
#[template(path = "admin/members/import.html")]
pub struct ImportPage {
    ctx: Ctx,
    /// Set once a file was read: its token, name and rows (previewed, or imported when `done`).
    token: String,
    file_name: String,
    /// The rows shown: errors first, at most `SHOWN` of them.
    lines: Vec<ImportLine>,
    /// (new, updated, unchanged, error) over the whole file.
    counts: [usize; 4],
    /// More rows than shown.
    more: usize,
    done: bool,
    passwords_waiting: bool,
    error: String,
    /// A confirmed import still running: (rows done, rows in all).
    running: Option<(i32, i32)>,
    /// A finished import: its outcome line and errors.
    outcome: Option<(String, Vec<(String, String)>)>,
}

/// Rows listed on the page: a file of 100,000 rows is counted, not printed.
const SHOWN: usize = 300;

impl ImportPage {
    fn count(&self, outcome: &str) -> usize {
        match outcome {
            "new" => self.counts[0],
            "updated" => self.counts[1],
            "unchanged" => self.counts[2],
            _ => self.counts[3],
        }
    }

    /// The preview's rows for the page: counted, then errors first, cut at `SHOWN`.
    fn with_lines(mut self, mut lines: Vec<ImportLine>) -> Self {
        let n = |o: &str| lines.iter().filter(|l| l.outcome == o).count();
        self.counts = [n("new"), n("updated"), n("unchanged"), n("error")];
        lines.sort_by_key(|l| (l.outcome != "error", l.line));
        self.more = lines.len().saturating_sub(SHOWN);
        lines.truncate(SHOWN);
        self.lines = lines;
        self
    }
}

fn empty(ctx: Ctx, error: String) -> ImportPage {
    ImportPage {
        ctx,
        token: String::new(),
        file_name: String::new(),
        lines: Vec::new(),
        counts: [0; 4],
        more: 0,
        done: false,
        passwords_waiting: false,
        error,
        running: None,
        outcome: None,
    }
}

async fn form(ctx: Ctx, StaffUser(_): StaffUser) -> AppResult<HttpResponse> {
    render(&empty(ctx, String::new()))
}

/// Rows to CSV text and back (how a batch keeps its rows between preview and confirmation).
fn to_csv(rows: &[Vec<String>]) -> AppResult<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(r)
            .map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(format!("csv: {e}")))
}

fn from_csv(text: &str) -> AppResult<Vec<Vec<String>>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    r.records()
        .map(|rec| {
            rec.map(|x| x.iter().map(str::to_string).collect())
                .map_err(|e| AppError::Internal(format!("csv: {e}")))
        })
        .collect()
}

async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    mut mp: MultipartForm,
) -> AppResult<HttpResponse> {
    let Some(file) = mp.files.pop() else {
        let msg = mp
            .file_errors
            .first()
            .cloned()
            .unwrap_or_else(|| "请选择名册文件（CSV 或 XLSX）".into());
        return render_status(&empty(ctx, msg), StatusCode::UNPROCESSABLE_ENTITY);
    };
    let now = state.config.clock.now();
    let cost = state.config.hash_cost;
    let ip = client_ip(&req);
    let name = file.filename.clone();
    let read = web::block(move || import::read_upload(&file.filename, &file.data)).await?;
    let rows = match read {
        Ok(r) => r,
        Err(AppError::Validation(m)) => {
            return render_status(&empty(ctx, m), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => return Err(e),
    };
    let job = Job {
        user: user.clone(),
        ip,
        now,
        rows: Arc::new(rows),
        passwords: Pw::Plain(cost),
        preview: true,
        token: None,
    };
    let lines = match import_job::run_in_parts(&state, &job).await {
        Ok(report) => report.lines,
        Err(AppError::Validation(m)) => {
            return render_status(&empty(ctx, m), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => return Err(e),
    };
    let mut rows = Arc::try_unwrap(job.rows).unwrap_or_else(|a| a.as_ref().clone());
    import::seal_passwords(&mut rows, &lines, &state.hasher).await?;
    let token = crate::auth::random_token(16);
    let (t2, n2, csv) = (token.clone(), name.clone(), to_csv(&rows)?);
    db::run(&state.pool, move |conn| {
        batches::insert(conn, &t2, user.id, &n2, &csv, now)
    })
    .await?;
    render(
        &ImportPage {
            token,
            file_name: name,
            ..empty(ctx, String::new())
        }
        .with_lines(lines),
    )
}

/// The preview again; while the import runs its progress; after it, its outcome.
async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let token = path.into_inner();
    let (u, t2) = (user.clone(), token.clone());
    let batch = db::run(&state.pool, move |conn| batches::find(conn, u.id, &t2)).await?;
    let page = ImportPage {
        token,
        file_name: batch.file_name.clone(),
        done: batch.done,
        passwords_waiting: batch.has_download,
        ..empty(ctx, String::new())
    };
    if let Some(summary) = &batch.summary {
        return render(&ImportPage {
            outcome: Some(import_job::read_summary(summary)),
            ..page
        });
    }
    if batch.done {
        return render(&ImportPage {
            running: Some((batch.progress, batch.total)),
            ..page
        });
    }
    let job = stored_job(&state, user, None, &batch.rows_csv, true, None)?;
    let report = import_job::run_in_parts(&state, &job).await?;
    render(&page.with_lines(report.lines))
}

/// A stored batch's rows as a job (their passwords sealed).
fn stored_job(
    state: &AppState,
    user: Arc<User>,
    ip: Option<String>,
    rows_csv: &str,
    preview: bool,
    token: Option<String>,
) -> AppResult<Job> {
    Ok(Job {
        user,
        ip,
        now: state.config.clock.now(),
        rows: Arc::new(from_csv(rows_csv)?),
        passwords: Pw::Sealed(Arc::new(Generated::new())),
        preview,
        token,
    })
}

#[derive(serde::Deserialize)]
pub struct Empty {}

/// Claim the batch (a second click or tab imports nothing twice) and import it: a file of one
/// part at once, a larger one by a background task whose progress the page shows.
async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<String>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let token = path.into_inner();
    let back = format!("/admin/members/import/{token}");
    let (u, t) = (user.clone(), token.clone());
    let claimed = db::run(&state.pool, move |conn| {
        let batch = batches::find(conn, u.id, &t)?;
        if !batches::claim(conn, u.id, &t)? {
            return Err(AppError::Conflict("这份名册已经导入过了".into()));
        }
        Ok(batch)
    })
    .await;
    let batch = match claimed {
        Ok(b) => b,
        Err(AppError::Conflict(m)) => return Ok(redirect_flash(&back, "error", &m)),
        Err(e) => return Err(e),
    };
    let job = stored_job(
        &state,
        user,
        client_ip(&req),
        &batch.rows_csv,
        false,
        Some(token),
    )?;
    if job.total() > import_job::CHUNK {
        import_job::spawn(state.clone(), job, batch.file_name);
        return Ok(redirect_flash(
            &back,
            "ok",
            "已开始导入，本页会显示进度；导入期间可以离开本页",
        ));
    }
    let r = import_job::import_batch(&state, job, &batch.file_name).await?;
    Ok(redirect_flash(
        &back,
        "ok",
        &format!("导入完成：{}", import_job::counts_line(&r)),
    ))
}

/// The new members' initial passwords as XLSX (made at the confirmation), once: the stored file
/// is deleted as it is served.
async fn passwords(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let token = path.into_inner();
    let now = state.config.clock.now();
    let ip = client_ip(&req);
    let bytes = db::run(&state.pool, move |conn| {
        crate::db::write_tx(conn, |conn| {
            let Some((file_name, bytes)) = batches::take_download(conn, user.id, &token)? else {
                return Err(AppError::NotFound);
            };
            audit::record(
                conn,
                &Actor::user(&user, ip, now),
                Some(user.unit_id),
                crate::audit::AuditAction::MemberExport,
                ("import", None),
                &format!("下载名册“{file_name}”的新会员初始密码"),
            )?;
            Ok(bytes)
        })
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"initial-passwords.xlsx\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}

pub fn passwords_xlsx(rows: &[Vec<String>]) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("初始密码").map_err(err)?;
    let bold = Format::new().set_bold();
    for (c, h) in ["工号", "姓名", "初始密码（首次登录后须修改）"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1);
        for (c, v) in r.iter().enumerate().take(3) {
            ws.write_string(row, c as u16, v).map_err(err)?;
        }
    }
    wb.save_to_buffer().map_err(err)
}
