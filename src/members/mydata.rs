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
use crate::state::AppState;
use crate::web::client_ip;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/data", web::get().to(download));
}

/// Columns never exported: secrets, search tokens, and bytes (files go in as files).
const SKIPPED: &[&str] = &[
    "password_hash",
    "receipt_hash",
    "submit_token",
    "checkin_secret",
    "title_tokens",
    "body_tokens",
    "data",
    "thumb",
    "version",
];

/// (file, table, the condition that picks the member's rows; `?` is the member id, `%K` their
/// engagement key). Every table with a member column is here.
pub const PARTS: &[(&str, &str, &str)] = &[
    ("profile.csv", "members", "id = ?"),
    ("roles.csv", "roles", "member_id = ?"),
    ("activity_signups.csv", "activity_signups", "member_id = ?"),
    (
        "survey_participation.csv",
        "survey_participants",
        "member_id = ?",
    ),
    ("survey_responses.csv", "survey_responses", "member_id = ?"),
    (
        "survey_answers.csv",
        "survey_answers",
        "response_id IN (SELECT id FROM survey_responses WHERE member_id = ?)",
    ),
    ("grievances.csv", "grievances", "member_id = ?"),
    (
        "grievance_timeline.csv",
        "grievance_events",
        "internal = FALSE AND grievance_id IN (SELECT id FROM grievances WHERE member_id = ?)",
    ),
    ("benefit_requests.csv", "benefit_requests", "member_id = ?"),
    (
        "benefit_timeline.csv",
        "benefit_events",
        "request_id IN (SELECT id FROM benefit_requests WHERE member_id = ?)",
    ),
    ("showcase_posts.csv", "showcase_posts", "member_id = ?"),
    ("showcase_likes.csv", "showcase_likes", "member_id = ?"),
    ("comments.csv", "comments", "member_id = ?"),
    ("comment_reports.csv", "comment_reports", "member_id = ?"),
    ("news_reads.csv", "news_reads", "member_id = ?"),
    ("notifications.csv", "notifications", "member_id = ?"),
    (
        "engagement_events.csv",
        "engagement_events",
        "member_key = '%K'",
    ),
];

#[derive(QueryableByName)]
struct Col {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

fn columns(conn: &mut DbConnection, table: &str) -> AppResult<Vec<String>> {
    let sql = if crate::db::is_sqlite(conn) {
        format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")
    } else {
        format!(
            "SELECT column_name::text AS name FROM information_schema.columns \
             WHERE table_name = '{table}' ORDER BY ordinal_position"
        )
    };
    Ok(diesel::sql_query(sql)
        .load::<Col>(conn)?
        .into_iter()
        .map(|c| c.name)
        .filter(|c| !SKIPPED.contains(&c.as_str()))
        .collect())
}

/// The member's rows of one table as CSV (header first); the number of rows.
fn table_csv(
    conn: &mut DbConnection,
    table: &str,
    condition: &str,
    member_id: i32,
    key: &str,
) -> AppResult<(Vec<u8>, usize)> {
    let cols = columns(conn, table)?;
    // One text value per row: the columns joined by the unit separator (portable SQL).
    let joined = cols
        .iter()
        .map(|c| format!("COALESCE(CAST({c} AS TEXT), '')"))
        .collect::<Vec<_>>()
        .join(" || '\u{1f}' || ");
    // The key is our own hex digest and the id an integer: nothing typed by anyone is spliced.
    let cond = condition
        .replace('?', &member_id.to_string())
        .replace("%K", key);
    let rows = diesel::sql_query(format!("SELECT {joined} AS line FROM {table} WHERE {cond}"))
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

/// Write the whole ZIP for one member to `out` as it is built (no seeking: a stream).
pub fn build<W: Write>(
    conn: &mut DbConnection,
    state: &AppState,
    member_id: i32,
    out: W,
) -> AppResult<()> {
    use crate::db::schema::{attachments, benefit_requests, grievances, images, showcase_posts};
    let key = crate::engagement::member_key(&state.config.secret_key, member_id);
    let zip_err = |e: zip::result::ZipError| AppError::Internal(format!("zip: {e}"));
    let io_err = |e: std::io::Error| AppError::Internal(format!("zip: {e}"));
    let opts = zip::write::SimpleFileOptions::default();
    let mut zip = zip::ZipWriter::new_stream(out);
    let mut index = Vec::new();
    for (file, table, cond) in PARTS {
        let (bytes, n) = table_csv(conn, table, cond, member_id, &key)?;
        zip.start_file(format!("data/{file}"), opts)
            .map_err(zip_err)?;
        // A BOM, so Excel opens the Chinese text as UTF-8.
        zip.write_all(b"\xEF\xBB\xBF").map_err(io_err)?;
        zip.write_all(&bytes).map_err(io_err)?;
        index.push((file.to_string(), n));
    }
    // The files the member attached (named cases, requests) and their posts' photos.
    let cases: Vec<i32> = grievances::table
        .filter(grievances::member_id.eq(member_id))
        .select(grievances::id)
        .load(conn)?;
    let requests: Vec<i32> = benefit_requests::table
        .filter(benefit_requests::member_id.eq(member_id))
        .select(benefit_requests::id)
        .load(conn)?;
    let posts: Vec<i32> = showcase_posts::table
        .filter(showcase_posts::member_id.eq(member_id))
        .select(showcase_posts::id)
        .load(conn)?;
    let mut files = 0usize;
    // One file in memory at a time: the list first, then each file's bytes.
    for (owner, ids) in [("grievance", &cases), ("benefit", &requests)] {
        let list: Vec<(i32, i32, String)> = attachments::table
            .filter(attachments::owner_type.eq(owner))
            .filter(attachments::owner_id.eq_any(ids))
            .select((
                attachments::id,
                attachments::owner_id,
                attachments::filename,
            ))
            .load(conn)?;
        for (id, owner_id, name) in list {
            let data: Vec<u8> = attachments::table
                .find(id)
                .select(attachments::data)
                .first(conn)?;
            let name = crate::web::upload::clean_filename(&name);
            zip.start_file(format!("files/{owner}-{owner_id}/{id}-{name}"), opts)
                .map_err(zip_err)?;
            zip.write_all(&data).map_err(io_err)?;
            files = files.saturating_add(1);
        }
    }
    let photos: Vec<(i32, i32)> = images::table
        .filter(images::owner_type.eq("showcase"))
        .filter(images::owner_id.eq_any(&posts))
        .select((images::id, images::owner_id))
        .load(conn)?;
    for (id, post) in photos {
        let data: Vec<u8> = images::table.find(id).select(images::data).first(conn)?;
        zip.start_file(format!("files/showcase-{post}/{id}.jpg"), opts)
            .map_err(zip_err)?;
        zip.write_all(&data).map_err(io_err)?;
        files = files.saturating_add(1);
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
