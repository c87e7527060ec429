//! 会费: monthly dues imported from payroll (CSV or XLSX: employee number, month, amount in
//! fen), one row per member and month, so an import run twice changes nothing; the member's
//! dues history; who has not paid for N months in a cadre's scope.

use chrono::{Datelike, NaiveDateTime};

use super::model;
use crate::audit::{Actor, AuditAction};
use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::org::scope;

/// What one row of a dues file did.
#[derive(Debug, Clone)]
pub struct DuesLine {
    /// As a spreadsheet counts: the header is line 1.
    pub line: usize,
    pub employee_no: String,
    pub month: String,
    pub amount_fen: i64,
    /// "added", "updated", "same" or "error".
    pub outcome: &'static str,
    pub message: String,
}

impl DuesLine {
    pub fn outcome_label(&self) -> &'static str {
        match self.outcome {
            "added" => "新增",
            "updated" => "更正",
            "same" => "未变",
            _ => "错误",
        }
    }
    pub fn yuan(&self) -> String {
        crate::benefits::model::yuan(self.amount_fen)
    }
}

/// Dues for one month cannot be more than this (¥10,000): a guard against a wrong column.
const MAX_FEN: i64 = 1_000_000;

/// "2026-05", "2026/5", "202605", "2026年5月" → "2026-05".
pub fn parse_month(text: &str) -> Option<String> {
    let t = text
        .trim()
        .replace('年', "-")
        .replace('月', "")
        .replace('/', "-");
    let (y, m) = match t.split_once('-') {
        Some((y, m)) => (y.trim().parse::<i32>().ok()?, m.trim().parse::<u32>().ok()?),
        None if t.len() == 6 && t.chars().all(|c| c.is_ascii_digit()) => {
            let (y, m) = t.split_at(4);
            (y.parse().ok()?, m.parse().ok()?)
        }
        None => return None,
    };
    ((2000..=2100).contains(&y) && (1..=12).contains(&m)).then(|| format!("{y:04}-{m:02}"))
}

fn header_positions(header: &[String]) -> AppResult<(usize, usize, usize)> {
    let pos = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.contains(&h.trim().trim_start_matches('\u{feff}')))
    };
    let missing = |c: &str| {
        AppError::Validation(format!(
            "第 1 行：缺少“{c}”列（需要 工号、月份、金额（分））"
        ))
    };
    Ok((
        pos(&["工号", "employee_no"]).ok_or_else(|| missing("工号"))?,
        pos(&["月份", "month"]).ok_or_else(|| missing("月份"))?,
        pos(&["金额（分）", "金额(分)", "amount_fen"]).ok_or_else(|| missing("金额（分）"))?,
    ))
}

/// Import dues rows (header first): every row reported; members outside the user's scope,
/// unknown and anonymised numbers are errors that read alike ("不在您的管理范围内") unless the
/// user is an administrator. One transaction and one audit row for the file.
pub fn import(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    rows: &[Vec<String>],
) -> AppResult<Vec<DuesLine>> {
    let Some((header, body)) = rows.split_first() else {
        return Err(AppError::Validation("文件是空的".into()));
    };
    let (c_no, c_month, c_amount) = header_positions(header)?;
    write_tx(conn, |conn| {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(body.len());
        for (i, row) in body.iter().enumerate() {
            let cell = |c: usize| row.get(c).map(|s| s.trim().to_string()).unwrap_or_default();
            let mut line = DuesLine {
                line: i.saturating_add(2),
                employee_no: cell(c_no),
                month: cell(c_month),
                amount_fen: 0,
                outcome: "error",
                message: String::new(),
            };
            if row.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            match row_outcome(conn, user, actor.now, &mut line, &cell(c_amount), &mut seen) {
                Ok(o) => line.outcome = o,
                Err(AppError::Validation(m)) => line.message = m,
                Err(e) => return Err(e),
            }
            out.push(line);
        }
        let count = |o: &str| out.iter().filter(|l| l.outcome == o).count();
        crate::audit::record(
            conn,
            actor,
            None,
            AuditAction::DuesImport,
            ("member_dues", None),
            &format!(
                "新增 {}，更正 {}，未变 {}，错误 {}",
                count("added"),
                count("updated"),
                count("same"),
                count("error")
            ),
        )?;
        Ok(out)
    })
}

fn row_outcome(
    conn: &mut DbConnection,
    user: &User,
    now: NaiveDateTime,
    line: &mut DuesLine,
    amount: &str,
    seen: &mut std::collections::HashSet<(i32, String)>,
) -> AppResult<&'static str> {
    let bad = |m: &str| AppError::Validation(m.to_string());
    let month = parse_month(&line.month).ok_or_else(|| bad("月份应为 2026-05 这样的年月"))?;
    line.month.clone_from(&month);
    // Payroll deducts for this month, at most the next: a later month is a typo (2062 for
    // 2026) that would count the member as paid for decades.
    if month > months_ahead(now, 1) {
        return Err(bad("月份不能晚于下个月，请检查是否填错年份"));
    }
    let fen: i64 = amount
        .parse()
        .ok()
        .filter(|f| (0..=MAX_FEN).contains(f))
        .ok_or_else(|| bad("金额应为 0 到 1000000 之间的整数（单位：分）"))?;
    line.amount_fen = fen;
    // Unknown, anonymised and another unit's numbers read the same to a cadre: the file must not
    // tell them which numbers exist outside their scope.
    let found = crate::members::model::find_by_employee_no(conn, &line.employee_no)?
        .filter(|m| m.anonymised_at.is_none());
    let Some(m) = found else {
        return Err(bad(if user.is_admin {
            "没有这个工号的会员"
        } else {
            "不在您的管理范围内"
        }));
    };
    let unit = crate::org::model::find(conn, m.unit_id)?;
    if !unit.is_some_and(|u| scope::manages(user, &u.path)) {
        return Err(bad("不在您的管理范围内"));
    }
    if !seen.insert((m.id, month.clone())) {
        return Err(bad("文件中同一会员同一月份出现了两次"));
    }
    match model::dues_amount(conn, m.id, &month)? {
        Some(old) if old == fen => Ok("same"),
        old => {
            model::put_dues(conn, m.id, &month, fen, now)?;
            Ok(if old.is_some() { "updated" } else { "added" })
        }
    }
}

/// The month `n` months after the month of `now` (Beijing), as "YYYY-MM".
pub fn months_ahead(now: NaiveDateTime, n: u32) -> String {
    month_offset(now, i32::try_from(n).unwrap_or(i32::MAX))
}

/// The month `n` months before the month of `now` (Beijing), as "YYYY-MM".
pub fn months_back(now: NaiveDateTime, n: u32) -> String {
    month_offset(now, i32::try_from(n).unwrap_or(i32::MAX).saturating_neg())
}

fn month_offset(now: NaiveDateTime, delta: i32) -> String {
    let d = crate::time::beijing_date(&now);
    let total = d
        .year()
        .saturating_mul(12)
        .saturating_add(d.month0() as i32)
        .saturating_add(delta);
    format!(
        "{:04}-{:02}",
        total.div_euclid(12),
        total.rem_euclid(12).saturating_add(1)
    )
}

/// One member behind with dues.
#[derive(Debug, Clone)]
pub struct Arrear {
    pub member_id: i32,
    pub name: String,
    pub employee_no: String,
    pub unit: String,
    pub last_paid: Option<String>,
}

/// Members in the user's scope with no dues for the last `months` months (up to last month):
/// how many, and `limit` of them from `offset` (`limit` 0: all of them, for the export).
pub fn arrears(
    conn: &mut DbConnection,
    user: &User,
    months: u32,
    now: NaiveDateTime,
    (limit, offset): (i64, i64),
) -> AppResult<(i64, Vec<Arrear>)> {
    let since = months_back(now, months);
    let units: Option<Vec<i32>> = match scope::manage_prefixes(user) {
        None => None,
        Some(prefixes) => Some(
            crate::org::model::under_paths(conn, &prefixes)?
                .into_iter()
                .map(|u| u.id)
                .collect(),
        ),
    };
    let limit = if limit == 0 { i64::MAX } else { limit };
    model::arrears(conn, units.as_deref(), &since, (limit, offset))
}

/// The arrears list as an XLSX workbook.
pub fn arrears_xlsx(rows: &[Arrear], months: u32) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(format!("连续{months}个月未交")).map_err(err)?;
    let bold = Format::new().set_bold();
    for (c, h) in ["姓名", "工号", "单位", "最近交费月份"].iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = (i as u32).saturating_add(1);
        ws.write_string(row, 0, &r.name).map_err(err)?;
        ws.write_string(row, 1, &r.employee_no).map_err(err)?;
        ws.write_string(row, 2, &r.unit).map_err(err)?;
        ws.write_string(row, 3, r.last_paid.as_deref().unwrap_or("从未"))
            .map_err(err)?;
    }
    wb.save_to_buffer().map_err(err)
}

#[cfg(test)]
mod tests {
    #[test]
    fn months_are_read_in_the_forms_payroll_uses() {
        use super::parse_month;
        assert_eq!(parse_month("2026-05").as_deref(), Some("2026-05"));
        assert_eq!(parse_month("2026/5").as_deref(), Some("2026-05"));
        assert_eq!(parse_month("202605").as_deref(), Some("2026-05"));
        assert_eq!(parse_month("2026年5月").as_deref(), Some("2026-05"));
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(parse_month("May 2026"), None);
        assert_eq!(parse_month(""), None);
    }

    #[test]
    fn months_ahead_and_back_cross_the_year_in_beijing_time() {
        use super::{months_ahead, months_back};
        // 2026-12-31 17:00 UTC is already 2027-01-01 in Beijing.
        let t = chrono::NaiveDate::from_ymd_opt(2026, 12, 31)
            .and_then(|d| d.and_hms_opt(17, 0, 0))
            .unwrap_or_default();
        assert_eq!(months_ahead(t, 1), "2027-02");
        assert_eq!(months_ahead(t, 0), "2027-01");
        assert_eq!(months_back(t, 1), "2026-12");
    }

    #[test]
    fn months_back_crosses_the_new_year() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 2, 10)
            .and_then(|d| d.and_hms_opt(4, 0, 0))
            .unwrap_or_default();
        assert_eq!(super::months_back(t, 0), "2026-02");
        assert_eq!(super::months_back(t, 3), "2025-11");
        assert_eq!(super::months_back(t, 14), "2024-12");
    }
}
