//! 我的数据 (/me/data): everything the portal holds about the member, as one ZIP of CSV files
//! with a readable index.html and the files they attached. Only rows linked to the member (their
//! profile, roles, sign-ups, named answers and cases, requests, posts, comments, likes, reads,
//! notifications and engagement events); anonymous cases and answers are not linked to them and
//! so are not in it; cadres' internal notes are left out. Audited.

use std::io::Write;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::audit::Actor;
use crate::auth::user::CurrentUser;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::personal_data::{Col, Table, REGISTRY};
use crate::state::AppState;
use crate::web::client_ip;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/data", web::get().to(download));
}

/// (file, table, the condition that picks the member's rows) for every registry table that
/// has rows of theirs: `?` is the member id, `%K` their engagement key.
pub fn parts() -> impl Iterator<Item = (String, &'static Table)> {
    REGISTRY
        .iter()
        .filter(|t| t.mine.is_some())
        .map(|t| (format!("{}.csv", t.name), t))
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

#[derive(QueryableByName)]
struct Bytes {
    #[diesel(sql_type = diesel::sql_types::Binary)]
    data: Vec<u8>,
}

/// The member's condition for one table (our own integer id and hex digest: nothing typed
/// by anyone is spliced).
fn condition(t: &Table, member_id: i32, key: &str) -> String {
    t.mine
        .unwrap_or("FALSE")
        .replace('?', &member_id.to_string())
        .replace("%K", key)
}

/// The member's rows of one table as CSV (header first); the number of rows.
fn table_csv(conn: &mut DbConnection, t: &Table, cond: &str) -> AppResult<(Vec<u8>, usize)> {
    let cols: Vec<&str> = t.exported().collect();
    // One text value per row: the columns joined by the unit separator (portable SQL).
    let joined = cols
        .iter()
        .map(|c| format!("COALESCE(CAST({c} AS TEXT), '')"))
        .collect::<Vec<_>>()
        .join(" || '\u{1f}' || ");
    let rows = diesel::sql_query(format!(
        "SELECT {joined} AS line FROM {} WHERE {cond}",
        t.name
    ))
    .load::<Line>(conn)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| AppError::Internal(format!("csv: {e}"));
    w.write_record(&cols).map_err(csv_err)?;
    for r in &rows {
        w.write_record(r.line.split('\u{1f}')).map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    Ok((bytes, rows.len()))
}

/// The files of one table's rows (its first `File` column), one in memory at a time, named
/// by the row's first column and, where the table keeps one, the uploaded file name.
fn table_files<W: Write>(
    conn: &mut DbConnection,
    t: &Table,
    cond: &str,
    zip: &mut zip::ZipWriter<zip::write::StreamWriter<W>>,
) -> AppResult<usize> {
    let Some((file_col, _)) = t.cols.iter().find(|(_, c)| *c == Col::File) else {
        return Ok(0);
    };
    let (key_col, _) = t.cols.first().copied().unwrap_or(("id", Col::Plain));
    let name_col = if t.cols.iter().any(|(n, _)| *n == "filename") {
        "filename"
    } else {
        "''"
    };
    let keys = diesel::sql_query(format!(
        "SELECT CAST({key_col} AS TEXT) || '\u{1f}' || {name_col} AS line FROM {} WHERE {cond}",
        t.name
    ))
    .load::<Line>(conn)?;
    let zip_err = |e: zip::result::ZipError| AppError::Internal(format!("zip: {e}"));
    let opts = zip::write::SimpleFileOptions::default();
    for k in &keys {
        let (key, name) = k.line.split_once('\u{1f}').unwrap_or((&k.line, ""));
        let Ok(key_num) = key.parse::<i64>() else {
            continue;
        };
        let data = diesel::sql_query(format!(
            "SELECT {file_col} AS data FROM {} WHERE {key_col} = {key_num}",
            t.name
        ))
        .get_result::<Bytes>(conn)?
        .data;
        let name = if name.is_empty() {
            format!("{key}.jpg")
        } else {
            format!("{key}-{}", crate::web::upload::clean_filename(name))
        };
        zip.start_file(format!("files/{}/{name}", t.name), opts)
            .map_err(zip_err)?;
        zip.write_all(&data)
            .map_err(|e| AppError::Internal(format!("zip: {e}")))?;
    }
    Ok(keys.len())
}

/// Write the whole ZIP for one member to `out` as it is built (no seeking: a stream).
pub fn build<W: Write>(
    conn: &mut DbConnection,
    state: &AppState,
    member_id: i32,
    out: W,
) -> AppResult<()> {
    let key = crate::engagement::member_key(&state.config.secret_key, member_id);
    let zip_err = |e: zip::result::ZipError| AppError::Internal(format!("zip: {e}"));
    let io_err = |e: std::io::Error| AppError::Internal(format!("zip: {e}"));
    let opts = zip::write::SimpleFileOptions::default();
    let mut zip = zip::ZipWriter::new_stream(out);
    let mut index = Vec::new();
    let mut files = 0usize;
    for (file, t) in parts() {
        let cond = condition(t, member_id, &key);
        let (bytes, n) = table_csv(conn, t, &cond)?;
        zip.start_file(format!("data/{file}"), opts)
            .map_err(zip_err)?;
        // A BOM, so Excel opens the Chinese text as UTF-8.
        zip.write_all(b"\xEF\xBB\xBF").map_err(io_err)?;
        zip.write_all(&bytes).map_err(io_err)?;
        index.push((file, n));
        files = files.saturating_add(table_files(conn, t, &cond, &mut zip)?);
    }
    zip.start_file("index.html", opts).map_err(zip_err)?;
    zip.write_all(index_html(&index, files).as_bytes())
        .map_err(io_err)?;
    zip.finish().map_err(zip_err)?;
    Ok(())
}

/// A `Write` that hands each chunk to the response body; an error once the browser is gone.
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<web::Bytes, std::io::Error>>);

impl Write for ChannelWriter {
    /// A browser that stops reading without closing would hold this task (and its database
    /// connection) for ever: after 30 s without room in the channel the download is given up.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use tokio::sync::mpsc::error::TrySendError;
        let mut chunk = Ok(web::Bytes::copy_from_slice(buf));
        let started = std::time::Instant::now();
        loop {
            match self.0.try_send(chunk) {
                Ok(()) => return Ok(buf.len()),
                Err(TrySendError::Full(back))
                    if started.elapsed() < std::time::Duration::from_secs(30) =>
                {
                    chunk = back;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::BrokenPipe,
                        "download stopped or stalled",
                    ))
                }
            }
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn index_html(parts: &[(String, usize)], files: usize) -> String {
    let rows: String = parts
        .iter()
        .map(|(f, n)| format!("<tr><td><a href=\"data/{f}\">{f}</a></td><td>{n}</td></tr>\n"))
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>我的数据</title></head>\
         <body><h1>职工之家 · 我的数据</h1>\
         <p>这里是职工之家保存的与您有关的全部数据：每个表一个 CSV 文件（可用 Excel 打开），\
         以及您上传的附件和照片（files 目录，共 {files} 个）。匿名申诉和匿名问卷的答案与您没有关联，因此不在其中；\
         工会干部的内部备注也不在其中。</p>\
         <table border=\"1\" cellpadding=\"4\"><tr><th>文件</th><th>行数</th></tr>\n{rows}</table></body></html>\n"
    )
}

async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let actor = Actor::user(&user, client_ip(&req), now);
    let id = user.id;
    db::run(&state.pool, move |conn| {
        crate::db::write_tx(conn, |conn| {
            crate::audit::record(
                conn,
                &actor,
                None,
                crate::audit::AuditAction::MemberDataExport,
                ("member", Some(id)),
                "下载我的数据",
            )
        })
    })
    .await?;
    // Built in a blocking task while the response streams: memory stays at a few chunks,
    // however many photos and attachments the member has.
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let st = state.clone();
    actix_web::rt::spawn(async move {
        let pool = st.pool.clone();
        let res = db::run(&pool, move |conn| build(conn, &st, id, ChannelWriter(tx))).await;
        if let Err(e) = res {
            log::warn!("my-data download for member {id} stopped: {e}");
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let date = crate::web::beijing(&now, "%Y%m%d");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/zip"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"my-data-{date}.zip\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .streaming(body))
}
