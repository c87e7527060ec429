//! Roster import in the admin area: upload a CSV or XLSX, see what each row would do, confirm,
//! then download the new members' initial passwords once. The same rules and code as the
//! command line import (`import::run`), limited to the units and members the cadre manages.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::batches;
use super::import::{self, ImportLine, ImportRun};
use crate::audit::{self, Actor};
use crate::auth::csrf::Form;
use crate::auth::user::StaffUser;
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
    let outcome = db::run(&state.pool, move |conn| {
        let rows = import::read_upload(&name, &file.data);
        let rows = match rows {
            Ok(r) => r,
            Err(AppError::Validation(m)) => return Ok(Err(m)),
            Err(e) => return Err(e),
        };
        let report = match import::run(
            conn,
            &rows,
            &ImportRun {
                cost,
                now,
                by: Some((&user, ip)),
                preview: true,
            },
            |_| {},
        ) {
            Ok(r) => r,
            Err(AppError::Validation(m)) => return Ok(Err(m)),
            Err(e) => return Err(e),
        };
        let token = crate::auth::random_token(16);
        batches::insert(conn, &token, user.id, &name, &to_csv(&rows)?, now)?;
        Ok(Ok((token, name, report.lines)))
    })
    .await?;
    match outcome {
        Ok((token, file_name, lines)) => render(&ImportPage {
            token,
            file_name,
            lines,
            ..empty(ctx, String::new())
        }),
        Err(m) => render_status(&empty(ctx, m), StatusCode::UNPROCESSABLE_ENTITY),
    }
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
    let cost = state.config.hash_cost;
    let t2 = token.clone();
    let (file_name, lines, done, passwords_waiting) = db::run(&state.pool, move |conn| {
        let batches::Batch {
            file_name,
            rows_csv,
            done,
            has_passwords: waiting,
        } = batches::find(conn, user.id, &t2)?;
        // Run as a preview: after the import every row reads as unchanged (or its error).
        let report = import::run(
            conn,
            &from_csv(&rows_csv)?,
            &ImportRun {
                cost,
                now,
                by: Some((&user, None)),
                preview: true,
            },
            |_| {},
        )?;
        Ok((file_name, report.lines, done, waiting))
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
    let now = state.config.clock.now();
    let cost = state.config.hash_cost;
    let ip = client_ip(&req);
    let t2 = token.clone();
    let report = db::run(&state.pool, move |conn| {
        let batch = batches::find(conn, user.id, &t2)?;
        // Claim the batch first: a second click (or a second tab) imports nothing twice.
        if !batches::claim(conn, user.id, &t2)? {
            return Err(AppError::Conflict("这份名册已经导入过了".into()));
        }
        let (file_name, rows_csv) = (batch.file_name, batch.rows_csv);
        let report = import::run(
            conn,
            &from_csv(&rows_csv)?,
            &ImportRun {
                cost,
                now,
                by: Some((&user, ip.clone())),
                preview: false,
            },
            |_| {},
        )?;
        let passwords = if report.passwords.is_empty() {
            None
        } else {
            let rows: Vec<Vec<String>> = report
                .passwords
                .iter()
                .map(|(no, name, pw)| vec![no.clone(), name.clone(), pw.clone()])
                .collect();
            Some(to_csv(&rows)?)
        };
        batches::set_passwords(conn, &t2, passwords.as_deref())?;
        audit::record(
            conn,
            &Actor::user(&user, ip, now),
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
    })
    .await;
    match report {
        Ok(r) => Ok(redirect_flash(
            &format!("/admin/members/import/{token}"),
            "ok",
            &format!(
                "导入完成：新建 {} 人，更新 {} 人，未变 {} 人，错误 {} 行",
                r.created,
                r.updated,
                r.unchanged,
                r.errors.len()
            ),
        )),
        Err(AppError::Conflict(m)) => Ok(redirect_flash(
            &format!("/admin/members/import/{token}"),
            "error",
            &m,
        )),
        Err(e) => Err(e),
    }
}

/// The new members' initial passwords as XLSX, once: the copy is deleted as it is served.
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
            let Some(text) = batches::take_passwords(conn, user.id, &token)? else {
                return Err(AppError::NotFound);
            };
            let rows = from_csv(&text)?;
            audit::record(
                conn,
                &Actor::user(&user, ip, now),
                Some(user.unit_id),
                crate::audit::AuditAction::MemberExport,
                ("import", None),
                &format!("下载新会员初始密码 {} 人", rows.len()),
            )?;
            passwords_xlsx(&rows)
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
