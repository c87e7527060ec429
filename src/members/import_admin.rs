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
use super::import::{self, Generated, ImportLine, ImportReport, ImportRun, Passwords};
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
    lines: Vec<ImportLine>,
    done: bool,
    passwords_waiting: bool,
    error: String,
}

impl ImportPage {
    fn count(&self, outcome: &str) -> usize {
        self.lines.iter().filter(|l| l.outcome == outcome).count()
    }
}

fn empty(ctx: Ctx, error: String) -> ImportPage {
    ImportPage {
        ctx,
        token: String::new(),
        file_name: String::new(),
        lines: Vec::new(),
        done: false,
        passwords_waiting: false,
        error,
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
    let u = user.clone();
    let checked = db::run(&state.pool, move |conn| {
        let how = ImportRun {
            passwords: Passwords::Plain(cost),
            now,
            by: Some((&u, ip)),
            preview: true,
        };
        match import::run(conn, &rows, &how, |_| {}) {
            Ok(report) => Ok(Ok((rows, report.lines))),
            Err(AppError::Validation(m)) => Ok(Err(m)),
            Err(e) => Err(e),
        }
    })
    .await?;
    let (mut rows, lines) = match checked {
        Ok(x) => x,
        Err(m) => return render_status(&empty(ctx, m), StatusCode::UNPROCESSABLE_ENTITY),
    };
    import::seal_passwords(&mut rows, &lines, &state.hasher).await?;
    let token = crate::auth::random_token(16);
    let (t2, n2, csv) = (token.clone(), name.clone(), to_csv(&rows)?);
    db::run(&state.pool, move |conn| {
        batches::insert(conn, &t2, user.id, &n2, &csv, now)
    })
    .await?;
    render(&ImportPage {
        token,
        file_name: name,
        lines,
        ..empty(ctx, String::new())
    })
}

/// A stored batch's rows checked again as a preview (its passwords are sealed): writes nothing.
fn preview_stored(
    conn: &mut db::DbConnection,
    user: &User,
    rows_csv: &str,
    now: chrono::NaiveDateTime,
) -> AppResult<ImportReport> {
    let none = Generated::new();
    let how = ImportRun {
        passwords: Passwords::Sealed(&none),
        now,
        by: Some((user, None)),
        preview: true,
    };
    import::run(conn, &from_csv(rows_csv)?, &how, |_| {})
}

/// The preview again, or after the import its result.
async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    StaffUser(user): StaffUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let token = path.into_inner();
    let now = state.config.clock.now();
    let t2 = token.clone();
    let (file_name, lines, done, passwords_waiting) = db::run(&state.pool, move |conn| {
        let batch = batches::find(conn, user.id, &t2)?;
        // Run as a preview: after the import every row reads as unchanged (or its error).
        let report = preview_stored(conn, &user, &batch.rows_csv, now)?;
        Ok((
            batch.file_name,
            report.lines,
            batch.done,
            batch.has_download,
        ))
    })
    .await?;
    render(&ImportPage {
        token,
        file_name,
        lines,
        done,
        passwords_waiting,
        ..empty(ctx, String::new())
    })
}

#[derive(serde::Deserialize)]
pub struct Empty {}

async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    path: web::Path<String>,
    Form(_): Form<Empty>,
) -> AppResult<HttpResponse> {
    let token = path.into_inner();
    let back = format!("/admin/members/import/{token}");
    match import_batch(&state, user, client_ip(&req), token).await {
        Ok(r) => Ok(redirect_flash(
            &back,
            "ok",
            &format!(
                "导入完成：新建 {} 人，更新 {} 人，未变 {} 人，错误 {} 行",
                r.created,
                r.updated,
                r.unchanged,
                r.errors.len()
            ),
        )),
        Err(AppError::Conflict(m)) => Ok(redirect_flash(&back, "error", &m)),
        Err(e) => Err(e),
    }
}

/// Confirm a batch without hashing inside a pooled connection: claim it and list the new rows
/// that need a generated password (`db::run`); generate and hash those through the bounded
/// hasher; import with every hash ready (`db::run`); make the one-time password file off the
/// pool and keep it until its first download (`db::run`).
async fn import_batch(
    state: &AppState,
    user: Arc<User>,
    ip: Option<String>,
    token: String,
) -> AppResult<ImportReport> {
    let now = state.config.clock.now();
    let (u, t) = (user.clone(), token.clone());
    let (file_name, rows_csv, to_generate) = db::run(&state.pool, move |conn| {
        let batch = batches::find(conn, u.id, &t)?;
        // Claim the batch first: a second click (or a second tab) imports nothing twice.
        if !batches::claim(conn, u.id, &t)? {
            return Err(AppError::Conflict("这份名册已经导入过了".into()));
        }
        let plan = preview_stored(conn, &u, &batch.rows_csv, now)?;
        Ok((batch.file_name, batch.rows_csv, plan.to_generate))
    })
    .await?;
    let generated = import::generate_passwords(&state.hasher, to_generate).await?;
    let report = db::run(&state.pool, move |conn| {
        write_batch(conn, &user, ip, now, &file_name, &rows_csv, &generated)
    })
    .await?;
    if !report.passwords.is_empty() {
        let rows: Vec<Vec<String>> = report
            .passwords
            .iter()
            .map(|(no, name, pw)| vec![no.clone(), name.clone(), pw.clone()])
            .collect();
        let xlsx = web::block(move || passwords_xlsx(&rows)).await??;
        db::run(&state.pool, move |conn| {
            batches::set_download(conn, &token, &xlsx)
        })
        .await?;
    }
    Ok(report)
}

/// The import itself, every hash prepared: each row in its own transaction, then the audit row
/// for the file.
fn write_batch(
    conn: &mut db::DbConnection,
    user: &User,
    ip: Option<String>,
    now: chrono::NaiveDateTime,
    file_name: &str,
    rows_csv: &str,
    generated: &Generated,
) -> AppResult<ImportReport> {
    let how = ImportRun {
        passwords: Passwords::Sealed(generated),
        now,
        by: Some((user, ip.clone())),
        preview: false,
    };
    let report = import::run(conn, &from_csv(rows_csv)?, &how, |_| {})?;
    audit::record(
        conn,
        &Actor::user(user, ip, now),
        Some(user.unit_id),
        crate::audit::AuditAction::MemberImport,
        ("import", None),
        &format!(
            "名册“{file_name}”：新建 {} 人，更新 {} 人，未变 {} 人，错误 {} 行",
            report.created,
            report.updated,
            report.unchanged,
            report.errors.len()
        ),
    )?;
    Ok(report)
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

fn passwords_xlsx(rows: &[Vec<String>]) -> AppResult<Vec<u8>> {
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
