//! Roster import from CSV or XLSX. Each row is its own transaction, so one bad row never blocks
//! the rest; members are matched by employee number, so re-running a file creates no duplicates.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::audit::{self, Actor};
use crate::auth::password::{basic_password_reason, hash_blocking, Hasher};
use crate::config::HashCost;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::org;
use crate::state::AppState;

use super::model::{self, MemberChanges};
use super::service::{self, MemberForm, MemberInput};

#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// (row number as shown in a spreadsheet, message)
    pub errors: Vec<(usize, String)>,
    /// Generated initial passwords of new members: (employee no, name, password).
    pub passwords: Vec<(String, String, String)>,
    /// Every data row with what happened (or, in a preview, what would happen) to it.
    pub lines: Vec<ImportLine>,
    /// In a preview: the employee-number cells of the new rows that get a generated password.
    pub to_generate: Vec<String>,
}

/// One row's result: `outcome` is new, updated, unchanged or error.
#[derive(Debug, Clone)]
pub struct ImportLine {
    pub line: usize,
    pub employee_no: String,
    pub name: String,
    pub unit: String,
    pub outcome: &'static str,
    pub reason: String,
}

impl ImportLine {
    pub fn outcome_label(&self) -> &'static str {
        match self.outcome {
            "new" => "新建",
            "updated" => "更新",
            "unchanged" => "未变",
            _ => "错误",
        }
    }
}

/// How an import runs: from the command line (no user: every unit, the system as actor) or by a
/// cadre in the admin area (only the units and members they manage, audited under their name);
/// a preview checks every row exactly as the import would and writes nothing.
pub struct ImportRun<'a> {
    pub passwords: Passwords<'a>,
    pub now: chrono::NaiveDateTime,
    pub by: Option<(&'a crate::auth::User, Option<String>)>,
    pub preview: bool,
}

/// Where new members' password hashes come from.
pub enum Passwords<'a> {
    /// The password column holds what the file says; hashed here, row by row (the command line,
    /// whose connection serves nobody else, and the upload's preview, which hashes nothing).
    Plain(HashCost),
    /// A stored batch: the password column holds what `seal_passwords` left, and generated
    /// passwords come hashed beforehand, off the pool.
    Sealed(&'a Generated),
}

/// Generated initial passwords with their hashes, by their row's employee-number cell.
pub type Generated = HashMap<String, (String, String)>;

/// A new row's initial password, decided before anything is written.
enum Initial {
    /// Hash `password` when the row is written; hand it out once if it was `generated`.
    Hash {
        password: String,
        cost: HashCost,
        generated: bool,
    },
    /// Hashed beforehand; `shown` is the generated password to hand out once.
    Ready { hash: String, shown: Option<String> },
}

impl ImportReport {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "新建 {} 人，更新 {} 人，未变 {} 人，错误 {} 行\n",
            self.created,
            self.updated,
            self.unchanged,
            self.errors.len()
        );
        for (row, msg) in &self.errors {
            s.push_str(&format!("  第 {row} 行：{msg}\n"));
        }
        s
    }
}

/// Column positions found in the header row.
struct Columns {
    employee_no: usize,
    name: usize,
    phone: Option<usize>,
    unit: usize,
    password: Option<usize>,
}

fn find_columns(header: &[String]) -> AppResult<Columns> {
    let pos = |names: &[&str]| {
        header.iter().position(|h| {
            let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
            names.iter().any(|n| h == *n)
        })
    };
    let missing = |what: &str| {
        AppError::Validation(format!(
            "表头缺少“{what}”列（需要：工号、姓名、单位，可选：手机、初始密码）"
        ))
    };
    Ok(Columns {
        employee_no: pos(&["工号", "员工编号", "employee_no"]).ok_or_else(|| missing("工号"))?,
        name: pos(&["姓名", "name"]).ok_or_else(|| missing("姓名"))?,
        phone: pos(&["手机", "手机号", "手机号码", "phone"]),
        unit: pos(&["单位", "所属单位", "unit"]).ok_or_else(|| missing("单位"))?,
        password: pos(&["初始密码", "password"]),
    })
}

/// Read a roster: the first row is the header.
pub fn read_rows(path: &Path) -> AppResult<Vec<Vec<String>>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_lowercase();
    match ext.as_str() {
        "csv" => {
            let bytes = std::fs::read(path).map_err(|e| {
                AppError::Validation(format!("cannot read {}: {e}", path.display()))
            })?;
            if std::str::from_utf8(&bytes).is_err() {
                return Err(AppError::Validation(
                    "CSV 文件不是 UTF-8 编码：请在 Excel 中另存为“CSV UTF-8”，或直接导入 .xlsx"
                        .into(),
                ));
            }
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes.as_slice());
            let mut rows = Vec::new();
            for rec in reader.records() {
                let rec = rec.map_err(|e| AppError::Validation(format!("CSV 格式错误：{e}")))?;
                if rows.len() >= MAX_ROWS as usize || rec.len() > MAX_COLS as usize {
                    return Err(AppError::Validation(format!(
                        "表格过大：最多 {MAX_ROWS} 行、{MAX_COLS} 列"
                    )));
                }
                rows.push(rec.iter().map(str::to_string).collect());
            }
            Ok(rows)
        }
        "xlsx" | "xlsm" => read_xlsx(path),
        _ => Err(AppError::Validation("只支持 .csv 和 .xlsx 文件".into())),
    }
}

/// Read an uploaded CSV or XLSX (by its file name's extension) into rows: calamine reads from
/// a file, so the upload goes to a temporary file that is removed again.
pub fn read_upload(file_name: &str, data: &[u8]) -> AppResult<Vec<Vec<String>>> {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let ext: String = ext
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(5)
        .collect();
    let path = std::env::temp_dir().join(format!(
        "zhijia-import-{}.{ext}",
        crate::auth::random_token(10)
    ));
    std::fs::write(&path, data).map_err(|e| AppError::Internal(format!("temp file: {e}")))?;
    let rows = read_rows(&path);
    let _ = std::fs::remove_file(&path);
    rows
}

/// Rows and columns a roster may have: a group union of 200,000 members, and small enough that a crafted
/// sheet (one cell at A1 and one at XFD1048576) cannot make us allocate billions of cells.
const MAX_ROWS: u32 = 200_000;
const MAX_COLS: u32 = 30;

/// The first sheet of an XLSX, read cell by cell (not as a dense range) within the limits.
fn read_xlsx(path: &Path) -> AppResult<Vec<Vec<String>>> {
    use calamine::{open_workbook, DataRef, Reader, Xlsx};
    let bad = |e: &dyn std::fmt::Display| AppError::Validation(format!("无法读取表格：{e}"));
    let mut wb: Xlsx<_> = open_workbook(path).map_err(|e| bad(&e))?;
    let first = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| AppError::Validation("表格中没有工作表".into()))?;
    let mut cells = wb.worksheet_cells_reader(&first).map_err(|e| bad(&e))?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    while let Some(cell) = cells.next_cell().map_err(|e| bad(&e))? {
        let (r, c) = cell.get_position();
        if r >= MAX_ROWS || c >= MAX_COLS {
            return Err(AppError::Validation(format!(
                "表格过大：最多 {MAX_ROWS} 行、{MAX_COLS} 列"
            )));
        }
        let text = match cell.get_value() {
            // Employee numbers and phones typed as numbers come back as floats.
            DataRef::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
            DataRef::Int(i) => i.to_string(),
            DataRef::Empty => String::new(),
            DataRef::String(v) => v.clone(),
            DataRef::SharedString(v) => (*v).to_string(),
            other => calamine::Data::from(other.clone()).to_string(),
        };
        let (r, c) = (r as usize, c as usize);
        if rows.len() <= r {
            rows.resize_with(r.saturating_add(1), Vec::new);
        }
        if let Some(row) = rows.get_mut(r) {
            if row.len() <= c {
                row.resize(c.saturating_add(1), String::new());
            }
            if let Some(slot) = row.get_mut(c) {
                *slot = text;
            }
        }
    }
    Ok(rows)
}

/// Import rows (header first) as the command line does. `progress` is called after each row.
pub fn import_rows(
    conn: &mut DbConnection,
    rows: &[Vec<String>],
    cost: HashCost,
    now: chrono::NaiveDateTime,
    progress: impl FnMut(usize),
) -> AppResult<ImportReport> {
    run(
        conn,
        rows,
        &ImportRun {
            passwords: Passwords::Plain(cost),
            now,
            by: None,
            preview: false,
        },
        progress,
    )
}

/// Check and (unless a preview) import rows (header first).
pub fn run(
    conn: &mut DbConnection,
    rows: &[Vec<String>],
    how: &ImportRun<'_>,
    mut progress: impl FnMut(usize),
) -> AppResult<ImportReport> {
    let Some((header, data)) = rows.split_first() else {
        return Err(AppError::Validation("文件是空的".into()));
    };
    let mut report = ImportReport::default();
    let mut seen = HashSet::new();
    run_part(
        conn,
        header,
        data,
        0,
        how,
        &mut seen,
        &mut report,
        &mut progress,
    )?;
    Ok(report)
}

/// Rows `data` of a file (the `skip` rows before them already done, with the employee numbers
/// they used in `seen`), added to `report`: a large file runs in parts, each on a connection
/// of its own for a short while.
#[allow(clippy::too_many_arguments)]
pub fn run_part(
    conn: &mut DbConnection,
    header: &[String],
    data: &[Vec<String>],
    skip: usize,
    how: &ImportRun<'_>,
    seen: &mut HashSet<String>,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(usize),
) -> AppResult<()> {
    let cols = find_columns(header)?;
    let units = org::model::all(conn)?;
    let now = how.now;
    let user = how.by.as_ref().map(|(u, _)| *u);
    let actor = match &how.by {
        Some((u, ip)) => Actor::user(u, ip.clone(), now),
        None => Actor::system("名册导入", now),
    };
    for (i, row) in data.iter().enumerate() {
        let i = i.saturating_add(skip);
        let line = i.saturating_add(2);
        progress(i.saturating_add(1));
        let cell = |c: usize| row.get(c).map(|s| s.trim().to_string()).unwrap_or_default();
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let mut entry = ImportLine {
            line,
            employee_no: cell(cols.employee_no),
            name: cell(cols.name),
            unit: cell(cols.unit),
            outcome: "error",
            reason: String::new(),
        };
        match row_outcome(conn, how, user, &actor, &units, &cols, &cell, seen)? {
            Ok((kind, password)) => {
                entry.outcome = kind;
                let given = cols.password.map(cell).is_some_and(|p| !p.is_empty());
                if how.preview && kind == "new" && !given {
                    report.to_generate.push(entry.employee_no.clone());
                }
                match kind {
                    "new" => report.created = report.created.saturating_add(1),
                    "updated" => report.updated = report.updated.saturating_add(1),
                    _ => report.unchanged = report.unchanged.saturating_add(1),
                }
                if let Some(p) = password {
                    report
                        .passwords
                        .push((entry.employee_no.clone(), entry.name.clone(), p));
                }
            }
            Err(msg) => {
                entry.reason = msg.clone();
                report.errors.push((line, msg));
            }
        }
        report.lines.push(entry);
    }
    Ok(())
}

/// One row: `Ok((outcome, generated password))`, or `Err(reason)` for the report.
#[allow(clippy::too_many_arguments)]
fn row_outcome(
    conn: &mut DbConnection,
    how: &ImportRun<'_>,
    user: Option<&crate::auth::User>,
    actor: &Actor,
    units: &[org::OrgUnit],
    cols: &Columns,
    cell: &dyn Fn(usize) -> String,
    seen: &mut std::collections::HashSet<String>,
) -> AppResult<Result<(&'static str, Option<String>), String>> {
    let input = match checked_row(user, units, cols, cell) {
        Ok(i) => i,
        Err(msg) => return Ok(Err(msg)),
    };
    if !seen.insert(input.employee_no.clone()) {
        return Ok(Err(format!("工号 {} 在文件中重复", input.employee_no)));
    }
    match model::find_by_employee_no(conn, &input.employee_no)? {
        // An anonymised member is never matched again: that would give the placeholder a name.
        Some(existing) if existing.anonymised_at.is_some() => {
            Ok(Err(refused_number(user, &input.employee_no)))
        }
        Some(existing) => update_existing(conn, how, user, actor, &input, existing),
        None => {
            let given = cols.password.map(cell).filter(|p| !p.is_empty());
            match initial_password(how, &input, &cell(cols.employee_no), given) {
                Ok(initial) => create_new(conn, how, user, actor, &input, initial),
                Err(msg) => Ok(Err(msg)),
            }
        }
    }
}

/// Why a row may not touch the account that holds its employee number. A cadre hears only
/// that it is not theirs, whether it is another unit's member, a staff account or an
/// anonymised one.
fn refused_number(user: Option<&crate::auth::User>, no: &str) -> String {
    match user {
        Some(_) => format!("工号 {no} 不在您的管理范围内"),
        None => format!("工号 {no} 属于已注销的会员，不能导入"),
    }
}

/// Why a row may not use its phone: another account holds it. A cadre hears only that it is
/// not theirs, not whether it is known elsewhere.
fn refused_phone(user: Option<&crate::auth::User>) -> String {
    match user {
        Some(_) => "手机号不在您的管理范围内".into(),
        None => "手机号已被其他会员使用".into(),
    }
}

/// One row read into a member's fields: the unit resolved and within the user's reach.
fn checked_row(
    user: Option<&crate::auth::User>,
    units: &[org::OrgUnit],
    cols: &Columns,
    cell: &dyn Fn(usize) -> String,
) -> Result<MemberInput, String> {
    let unit_id = org::service::resolve_unit(units, &cell(cols.unit))?;
    if let Some(u) = user {
        let path = units
            .iter()
            .find(|x| x.id == unit_id)
            .map(|x| x.path.as_str());
        if !path.is_some_and(|p| crate::org::scope::manages(u, p)) {
            return Err(format!("“{}”不在您管理的范围内", cell(cols.unit)));
        }
    }
    let form = MemberForm {
        employee_no: cell(cols.employee_no),
        name: cell(cols.name),
        phone: cols.phone.map(cell).unwrap_or_default(),
        unit_id: unit_id.to_string(),
    };
    form.validate().map_err(|errs| one_line(&errs))
}

/// A row's field errors as one line of the report.
fn one_line(errs: &crate::forms::FieldErrors) -> String {
    errs.0
        .iter()
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join("；")
}

/// A row for an existing account: unchanged, or updated (and audited) unless previewing.
fn update_existing(
    conn: &mut DbConnection,
    how: &ImportRun<'_>,
    user: Option<&crate::auth::User>,
    actor: &Actor,
    input: &MemberInput,
    existing: model::Member,
) -> AppResult<Result<(&'static str, Option<String>), String>> {
    if let Some(u) = user {
        // An existing account outside the cadre's reach (another unit, a staff account)
        // is neither changed nor moved in.
        match service::load_in_scope(conn, u, existing.id) {
            Ok(_) => {}
            Err(AppError::NotFound) => return Ok(Err(refused_number(user, &input.employee_no))),
            Err(e) => return Err(e),
        }
    }
    let same = existing.name == input.name
        && existing.unit_id == input.unit_id
        && (input.phone.is_none() || existing.phone == input.phone);
    if same {
        return Ok(Ok(("unchanged", None)));
    }
    let phone = input.phone.clone().or(existing.phone.clone());
    if let Some(p) = &phone {
        if model::phone_taken(conn, p, Some(existing.id))? {
            return Ok(Err(refused_phone(user)));
        }
    }
    if how.preview {
        return Ok(Ok(("updated", None)));
    }
    write_tx(conn, |conn| {
        model::update(
            conn,
            existing.id,
            &MemberChanges {
                employee_no: &input.employee_no,
                phone: phone.as_deref(),
                name: &input.name,
                unit_id: input.unit_id,
                updated_at: how.now,
            },
        )?;
        audit::record(
            conn,
            actor,
            Some(input.unit_id),
            crate::audit::AuditAction::MemberImport,
            ("member", Some(existing.id)),
            &format!("更新 {} {}", input.employee_no, input.name),
        )
    })?;
    Ok(Ok(("updated", None)))
}

/// What a new row's password cell (`given`; `key` is its employee-number cell) stands for;
/// `Err` is the row's reason. Nothing is hashed here.
fn initial_password(
    how: &ImportRun<'_>,
    input: &MemberInput,
    key: &str,
    given: Option<String>,
) -> Result<Initial, String> {
    let refused = |r: &str| format!("初始密码不符合要求：{r}");
    match (&how.passwords, given) {
        (Passwords::Plain(cost), given) => {
            let generated = given.is_none();
            let password = given.unwrap_or_else(crate::auth::password::activation_code);
            match basic_password_reason(&password, &input.employee_no) {
                Some(r) => Err(refused(r)),
                None => Ok(Initial::Hash {
                    password,
                    cost: *cost,
                    generated,
                }),
            }
        }
        (Passwords::Sealed(_), Some(cell)) => {
            if let Some(r) = cell.strip_prefix('!') {
                return Err(refused(r));
            }
            if !cell.starts_with("$argon2") {
                // Only a hash sealed at upload: a file cannot plant a code digest.
                return Err(refused("无法识别"));
            }
            Ok(Initial::Ready {
                hash: cell,
                shown: None,
            })
        }
        (Passwords::Sealed(made), None) => match made.get(key) {
            Some((password, hash)) => Ok(Initial::Ready {
                hash: hash.clone(),
                shown: Some(password.clone()),
            }),
            None if how.preview => Ok(Initial::Ready {
                hash: String::new(),
                shown: None,
            }),
            None => Err("这一行在预览之后有了变化，请重新上传名册".into()),
        },
    }
}

/// A row for a new account: created with the given or a generated initial password (returned
/// when generated, so it can be handed out once) unless previewing.
fn create_new(
    conn: &mut DbConnection,
    how: &ImportRun<'_>,
    user: Option<&crate::auth::User>,
    actor: &Actor,
    input: &MemberInput,
    initial: Initial,
) -> AppResult<Result<(&'static str, Option<String>), String>> {
    if let Some(p) = &input.phone {
        if model::phone_taken(conn, p, None)? {
            return Ok(Err(refused_phone(user)));
        }
    }
    if how.preview {
        return Ok(Ok(("new", None)));
    }
    let (hash, shown) = match initial {
        Initial::Hash {
            password,
            generated: true,
            ..
        } => (
            crate::auth::password::code_digest(&password),
            Some(password),
        ),
        Initial::Hash { password, cost, .. } => (hash_blocking(cost, &password)?, None),
        Initial::Ready { hash, shown } => (hash, shown),
    };
    match service::create(conn, user, actor, input, &hash, true) {
        Ok(_) => Ok(Ok(("new", shown))),
        Err(e) => Ok(Err(one_line(&e.fields()?))),
    }
}

/// Make a previewed upload fit to be stored: each initial password the file gives becomes its
/// argon2 hash when its row would create a member (through the bounded hasher, off the pool),
/// `!reason` when it is refused, and nothing otherwise. No password is stored in plain text.
pub async fn seal_passwords(
    rows: &mut [Vec<String>],
    lines: &[ImportLine],
    hasher: &Hasher,
) -> AppResult<()> {
    let Some((header, data)) = rows.split_first_mut() else {
        return Ok(());
    };
    let cols = find_columns(header)?;
    let Some(at) = cols.password else {
        return Ok(());
    };
    let new: HashSet<usize> = lines
        .iter()
        .filter(|l| l.outcome == "new")
        .map(|l| l.line)
        .collect();
    let mut jobs = Vec::new();
    for (i, row) in data.iter_mut().enumerate() {
        let no = row
            .get(cols.employee_no)
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let no = service::normalize_employee_no(&no).unwrap_or(no);
        let Some(cell) = row.get_mut(at) else {
            continue;
        };
        let password = cell.trim().to_string();
        if password.is_empty() {
            continue;
        }
        *cell = match basic_password_reason(&password, &no) {
            Some(r) => format!("!{r}"),
            None if new.contains(&i.saturating_add(2)) => {
                jobs.push((i, password));
                String::new()
            }
            None => String::new(),
        };
    }
    // As many hashes at once as the hasher admits (one per core), not one after another.
    use futures_util::StreamExt;
    let width = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut hashed = futures_util::stream::iter(jobs)
        .map(|(i, password)| async move { (i, hasher.hash(password).await) })
        .buffer_unordered(width);
    while let Some((i, hash)) = hashed.next().await {
        if let Some(cell) = data.get_mut(i).and_then(|row| row.get_mut(at)) {
            *cell = hash?;
        }
    }
    Ok(())
}

/// An activation code for each key (a row's employee-number cell) with its fast digest: no
/// slow hash, so a large import costs microseconds a row and never queues at the hasher.
pub fn generate_passwords(keys: Vec<String>) -> Generated {
    keys.into_iter()
        .map(|key| {
            let code = crate::auth::password::activation_code();
            let digest = crate::auth::password::code_digest(&code);
            (key, (code, digest))
        })
        .collect()
}

/// The CLI import: progress bar, then the generated passwords written beside the file.
pub fn import_file(state: &AppState, path: &Path) -> AppResult<ImportReport> {
    let rows = read_rows(path)?;
    let bar = indicatif::ProgressBar::new(rows.len().saturating_sub(1) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} 行 {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut conn = state.pool.get()?;
    let report = import_rows(
        &mut conn,
        &rows,
        state.config.hash_cost,
        state.config.clock.now(),
        |n| bar.set_position(n as u64),
    )?;
    bar.finish_and_clear();
    if !report.passwords.is_empty() {
        let out = path.with_extension("passwords.csv");
        let mut w = csv::Writer::from_path(&out)
            .map_err(|e| AppError::Internal(format!("cannot write {}: {e}", out.display())))?;
        let io = |e: csv::Error| AppError::Internal(format!("cannot write {}: {e}", out.display()));
        w.write_record(["工号", "姓名", "初始密码"]).map_err(io)?;
        for (no, name, pw) in &report.passwords {
            w.write_record([no, name, pw]).map_err(io)?;
        }
        w.flush()
            .map_err(|e| AppError::Internal(format!("cannot write {}: {e}", out.display())))?;
        println!(
            "{} 个新会员的初始密码已写入 {}（请安全分发后删除该文件）",
            report.passwords.len(),
            out.display()
        );
    }
    Ok(report)
}
