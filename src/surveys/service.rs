//! Survey rules: questions are written as plain text (one "[单选] 题目 *" line per question,
//! options on the lines below); each member answers once, also when anonymous; results are
//! tallied from the raw answers; who may see them is the survey's choice.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::model::{self, NewSurvey, Question, Survey, Visibility};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::org::{self, scope};

/// A question as parsed from the editor text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQuestion {
    pub kind: &'static str,
    pub prompt: String,
    pub options: Vec<String>,
    pub max_choices: i32,
    pub required: bool,
}

/// Parse the question text. Errors name the line.
pub fn parse_questions(src: &str) -> Result<Vec<ParsedQuestion>, String> {
    let mut out: Vec<ParsedQuestion> = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        let n = i.saturating_add(1); // line number as people count
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[').or_else(|| line.strip_prefix('【')) {
            out.push(parse_heading(n, rest)?);
        } else {
            let Some(q) = out.last_mut() else {
                return Err(format!(
                    "第 {n} 行：第一行应以 [单选]、[多选]、[文本] 或 [评分] 开头"
                ));
            };
            add_option(q, n, line)?;
        }
    }
    check_counts(&mut out)?;
    Ok(out)
}

/// A question's line after its opening bracket: `单选] 题目 *`.
fn parse_heading(n: usize, rest: &str) -> Result<ParsedQuestion, String> {
    let Some(end) = rest.find([']', '】']) else {
        return Err(format!("第 {n} 行：缺少“]”"));
    };
    let (tag, after) = rest.split_at_checked(end).unwrap_or((rest, ""));
    let tag = tag.trim();
    let mut prompt = after.trim_start_matches([']', '】']).trim().to_string();
    let required = prompt.ends_with('*') || prompt.ends_with('＊');
    if required {
        prompt = prompt.trim_end_matches(['*', '＊']).trim().to_string();
    }
    let (kind, max) = if tag.starts_with("单选") {
        ("single", 1)
    } else if let Some(m) = tag.strip_prefix("多选") {
        let digits: String = m.chars().filter(|c| c.is_ascii_digit()).collect();
        ("multi", digits.parse().unwrap_or(0))
    } else if tag.starts_with("文本") || tag.starts_with("填空") {
        ("text", 0)
    } else if tag.starts_with("评分") {
        ("rating", 0)
    } else {
        return Err(format!(
            "第 {n} 行：题型“{tag}”不认识，请用 单选、多选、文本 或 评分"
        ));
    };
    if prompt.is_empty() || prompt.chars().count() > 200 {
        return Err(format!("第 {n} 行：请写题目（200 字以内）"));
    }
    Ok(ParsedQuestion {
        kind,
        prompt,
        options: Vec::new(),
        max_choices: max,
        required,
    })
}

/// An option line under a choice question.
fn add_option(q: &mut ParsedQuestion, n: usize, line: &str) -> Result<(), String> {
    if q.kind != "single" && q.kind != "multi" {
        return Err(format!(
            "第 {} 行：{}题不需要选项",
            n,
            if q.kind == "text" { "文本" } else { "评分" }
        ));
    }
    let opt: String = line.chars().take(100).collect();
    if q.options.contains(&opt) {
        return Err(format!("第 {n} 行：选项“{opt}”重复"));
    }
    q.options.push(opt);
    Ok(())
}

/// 1–50 questions, 2–20 options per choice question; a multiple choice allows at most all.
fn check_counts(out: &mut [ParsedQuestion]) -> Result<(), String> {
    if out.is_empty() {
        return Err("请至少写一道题".into());
    }
    if out.len() > 50 {
        return Err("最多 50 道题".into());
    }
    for (i, q) in out.iter_mut().enumerate() {
        if q.kind == "single" || q.kind == "multi" {
            if q.options.len() < 2 || q.options.len() > 20 {
                return Err(format!(
                    "第 {} 题“{}”：选择题要有 2 到 20 个选项",
                    i.saturating_add(1),
                    q.prompt
                ));
            }
            if q.kind == "multi" && (q.max_choices <= 0 || q.max_choices as usize > q.options.len())
            {
                q.max_choices = q.options.len() as i32;
            }
        }
    }
    Ok(())
}

#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct SurveyForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub anonymous: String,
    #[serde(default)]
    pub results_visibility: String,
    #[serde(default)]
    pub opens_at: String,
    #[serde(default)]
    pub closes_at: String,
    #[serde(default)]
    pub source: String,
}

/// The parsed questions of a new survey, in order.
fn insert_questions(
    conn: &mut DbConnection,
    survey: i32,
    questions: &[ParsedQuestion],
) -> AppResult<()> {
    for (i, q) in questions.iter().enumerate() {
        model::insert_question(
            conn,
            survey,
            i32::try_from(i).unwrap_or(i32::MAX),
            q.kind,
            &q.prompt,
            &q.options.join("\n"),
            q.max_choices,
            q.required,
        )?;
    }
    Ok(())
}

/// Create a survey for audiences in the cadre's scope.
pub fn create(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    form: &SurveyForm,
    audience: &[i32],
) -> AppResult<i32> {
    let now = actor.now;
    write_tx(conn, |conn| {
        let mut e = FieldErrors::default();
        let title = form.title.trim();
        if title.is_empty() || title.chars().count() > 60 {
            e.add("title", "请填写标题（60 字以内）");
        }
        if form.description.chars().count() > 2000 {
            e.add("description", "说明请控制在 2000 字以内");
        }
        let vis = Visibility::parse(&form.results_visibility);
        if vis.is_none() {
            e.add("results_visibility", "请选择结果何时可见");
        }
        let opens = if form.opens_at.trim().is_empty() {
            Some(now)
        } else {
            e.time("opens_at", &form.opens_at, "开始时间格式不正确")
        };
        let closes = e.time("closes_at", &form.closes_at, "请填写截止时间");
        if let (Some(o), Some(c)) = (opens, closes) {
            if c <= o {
                e.add("closes_at", "截止时间要晚于开始时间");
            }
        }
        let questions = match parse_questions(&form.source) {
            Ok(q) => q,
            Err(m) => {
                e.add("source", m);
                Vec::new()
            }
        };
        let units = scope::audience_units(conn, user, audience, &mut e, "请选择调查范围")?;
        if !e.is_empty() {
            return Err(AppError::Fields(e));
        }
        let publisher = scope::lowest_common_ancestor(&units).unwrap_or(user.unit_id);
        let id = model::insert(
            conn,
            &NewSurvey {
                unit_id: publisher,
                author_id: user.id,
                title,
                description: form.description.trim(),
                anonymous: form.anonymous == "1",
                results_visibility: vis.unwrap_or(Visibility::Cadres),
                opens_at: opens.unwrap_or(now),
                closes_at: closes.unwrap_or(now),
                source: form.source.trim(),
                created_at: now,
            },
        )?;
        insert_questions(conn, id, &questions)?;
        model::set_audience(conn, id, audience)?;
        audit::record(
            conn,
            actor,
            Some(publisher),
            crate::audit::AuditAction::SurveyCreate,
            ("survey", Some(id)),
            title,
        )?;
        Ok(id)
    })
}

/// A survey in the reader's audience that has opened, else 404.
pub fn readable(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    now: NaiveDateTime,
) -> AppResult<Survey> {
    let s = model::find(conn, id)?
        .filter(|s| s.opens_at <= now)
        .ok_or(AppError::NotFound)?;
    let anc = crate::org::scope::ancestors(user);
    if !model::audience(conn, id)?.iter().any(|u| anc.contains(u)) {
        return Err(AppError::NotFound);
    }
    Ok(s)
}

pub fn load_for_staff(conn: &mut DbConnection, user: &User, id: i32) -> AppResult<Survey> {
    let s = model::find(conn, id)?.ok_or(AppError::NotFound)?;
    scope::require_manages(conn, user, s.unit_id)?;
    Ok(s)
}

/// Posted answers: question id → values (several for a multiple choice).
pub type Posted = HashMap<i32, Vec<String>>;

pub const ALREADY: &str = "您已经提交过这份问卷，每人只能提交一次";

/// Messages by question id, shown under each question.
#[derive(Debug, Default, Clone)]
pub struct QuestionErrors(pub Vec<(i32, String)>);

impl QuestionErrors {
    fn add(&mut self, q: i32, msg: impl Into<String>) {
        if !self.0.iter().any(|(k, _)| *k == q) {
            self.0.push((q, msg.into()));
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn get(&self, q: &i32) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == q)
            .map_or("", |(_, m)| m.as_str())
    }
}

/// One answer as stored: (question id, choice, text, rating).
type AnswerCells = (i32, Option<i32>, Option<String>, Option<i32>);

/// The posted answers checked against the questions: the rows to store, or a message per
/// question.
fn read_answers(
    questions: &[Question],
    posted: &Posted,
) -> Result<Vec<AnswerCells>, QuestionErrors> {
    let mut e = QuestionErrors::default();
    let mut rows: Vec<AnswerCells> = Vec::new();
    for q in questions {
        let vals: Vec<&str> = posted
            .get(&q.id)
            .map(|v| {
                v.iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let key = q.id;
        let Some(&first) = vals.first() else {
            if q.required {
                e.add(key, "这道题必须回答");
            }
            continue;
        };
        match q.kind.as_str() {
            "single" | "multi" => {
                let n = q.option_list().len() as i32;
                let mut picks: Vec<i32> = Vec::new();
                for v in &vals {
                    match v.parse::<i32>() {
                        Ok(c) if (0..n).contains(&c) && !picks.contains(&c) => picks.push(c),
                        _ => e.add(key, "选项无效"),
                    }
                }
                if q.kind == "single" && picks.len() > 1 {
                    e.add(key, "只能选一项");
                } else if picks.len() as i32 > q.max_choices.max(1) {
                    e.add(key, format!("最多选 {} 项", q.max_choices));
                }
                rows.extend(picks.into_iter().map(|c| (q.id, Some(c), None, None)));
            }
            "text" => {
                let t: String = first
                    .chars()
                    .filter(|c| !c.is_control() || *c == '\n')
                    .collect();
                if t.chars().count() > 1000 {
                    e.add(key, "请控制在 1000 字以内");
                }
                rows.push((q.id, None, Some(t), None));
            }
            _ => match first.parse::<i32>() {
                Ok(r) if (1..=5).contains(&r) => rows.push((q.id, None, None, Some(r))),
                _ => e.add(key, "请选择 1 到 5 分"),
            },
        }
    }
    if !e.is_empty() {
        return Err(e);
    }
    Ok(rows)
}

/// Check and store one answer sheet: errors by question, or done.
pub fn submit(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    posted: &Posted,
    now: NaiveDateTime,
) -> AppResult<Result<(), QuestionErrors>> {
    let s = readable(conn, user, id, now)?;
    if !s.is_open(&now) {
        return Err(AppError::Validation("问卷已截止".into()));
    }
    let questions = model::questions(conn, id)?;
    let rows = match read_answers(&questions, posted) {
        Ok(rows) => rows,
        Err(e) => return Ok(Err(e)),
    };
    let result = write_tx(conn, |conn| {
        if model::has_answered(conn, id, user.id)? {
            return Err(AppError::Conflict(ALREADY.into()));
        }
        model::add_participant(conn, id, user.id)?;
        // Anonymous: no member, no unit, and only the date.
        let (member, unit) = if s.anonymous {
            (None, None)
        } else {
            (Some(user.id), Some(user.unit_id))
        };
        let rid = model::insert_response(conn, id, member, unit, crate::time::beijing_date(&now))?;
        for (qid, choice, text, rating) in &rows {
            model::insert_answer(conn, rid, *qid, *choice, text.as_deref(), *rating)?;
        }
        Ok(())
    });
    match result {
        // Two submissions at the same moment: the other one stored the answers.
        Err(AppError::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))) => Err(AppError::Conflict(ALREADY.into())),
        other => other.map(Ok),
    }
}

/// Whether this member may see the results now.
pub fn may_see_results(
    s: &Survey,
    answered: bool,
    staff_manages: bool,
    now: &NaiveDateTime,
) -> bool {
    staff_manages
        || match s.results_visibility {
            Visibility::AfterAnswer => answered,
            Visibility::AfterClose => s.closed(now),
            Visibility::Cadres => false,
        }
}

/// One question's results.
#[derive(Debug, Clone)]
pub struct Tally {
    pub q: Question,
    /// (label, count) per option, or per star for ratings.
    pub bars: Vec<(String, i64)>,
    pub answered: i64,
    pub average: Option<f64>,
    pub texts: Vec<String>,
}

impl Tally {
    pub fn max(&self) -> i64 {
        self.bars.iter().map(|b| b.1).max().unwrap_or(0).max(1)
    }
    /// Bar width in chart units (the longest bar is 230 wide).
    pub fn width(&self, n: &i64) -> i64 {
        n.saturating_mul(230).checked_div(self.max()).unwrap_or(0)
    }
    pub fn share(&self, n: &i64) -> String {
        if self.answered == 0 {
            "0%".into()
        } else {
            format!("{:.0}%", *n as f64 * 100.0 / self.answered as f64)
        }
    }
    pub fn chart_height(&self) -> usize {
        self.bars.len().saturating_mul(40).saturating_add(2)
    }
    pub fn average_label(&self) -> String {
        self.average.map(|a| format!("{a:.2}")).unwrap_or_default()
    }
}

/// Tallies straight from the raw answers.
pub fn tally(conn: &mut DbConnection, id: i32) -> AppResult<(Vec<Tally>, i64)> {
    let questions = model::questions(conn, id)?;
    let answers = model::answers(conn, id)?;
    let responses = model::responses(conn, id)?.len() as i64;
    let out = questions
        .into_iter()
        .map(|q| {
            let mine: Vec<&model::AnswerRow> = answers.iter().filter(|a| a.2 == q.id).collect();
            let answered = {
                let mut r: Vec<i32> = mine.iter().map(|a| a.0).collect();
                r.dedup();
                r.len() as i64
            };
            let (bars, average, texts) = match q.kind.as_str() {
                "single" | "multi" => (
                    q.option_list()
                        .into_iter()
                        .enumerate()
                        .map(|(i, label)| {
                            (
                                label,
                                mine.iter().filter(|a| a.3 == Some(i as i32)).count() as i64,
                            )
                        })
                        .collect(),
                    None,
                    Vec::new(),
                ),
                "rating" => {
                    let vals: Vec<i32> = mine.iter().filter_map(|a| a.5).collect();
                    let avg = (!vals.is_empty())
                        .then(|| vals.iter().sum::<i32>() as f64 / vals.len() as f64);
                    (
                        (1..=5)
                            .rev()
                            .map(|s| {
                                (
                                    format!("{s} 分"),
                                    vals.iter().filter(|v| **v == s).count() as i64,
                                )
                            })
                            .collect(),
                        avg,
                        Vec::new(),
                    )
                }
                _ => {
                    // Sorted, not in the order they came in: that order could name a writer.
                    let mut texts: Vec<String> = mine.iter().filter_map(|a| a.4.clone()).collect();
                    texts.sort_unstable();
                    (Vec::new(), None, texts)
                }
            };
            Tally {
                q,
                bars,
                answered,
                average,
                texts,
            }
        })
        .collect();
    Ok((out, responses))
}

/// Named surveys: responses per unit against the audience size of that unit (cadres only).
pub fn per_unit(conn: &mut DbConnection, s: &Survey) -> AppResult<Vec<(String, i64, i64)>> {
    if s.anonymous {
        return Ok(Vec::new());
    }
    let ids = model::audience(conn, s.id)?;
    let paths: Vec<String> = org::model::all(conn)?
        .into_iter()
        .filter(|u| ids.contains(&u.id))
        .map(|u| u.path)
        .collect();
    let units = org::model::under_paths(conn, &paths)?;
    let counts = org::model::member_counts(conn)?;
    let responses = model::responses(conn, s.id)?;
    Ok(units
        .iter()
        .filter_map(|u| {
            let members = counts.iter().find(|(id, _)| *id == u.id).map_or(0, |c| c.1);
            let answered = responses.iter().filter(|r| r.2 == Some(u.id)).count() as i64;
            (members > 0).then(|| (u.name.clone(), members, answered))
        })
        .collect())
}

/// Results as XLSX: a summary sheet (tallies) and one row per answer sheet.
pub fn results_xlsx(conn: &mut DbConnection, s: &Survey) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let (tallies, responses) = tally(conn, s.id)?;
    let answers = model::answers(conn, s.id)?;
    let sheets = model::responses(conn, s.id)?;
    // Names only for a named survey: an anonymous one's answer sheet has none to show.
    let names = if s.anonymous {
        None
    } else {
        let ids: Vec<i32> = sheets.iter().filter_map(|r| r.1).collect();
        Some(model::member_names(conn, &ids)?)
    };
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet().set_name("汇总").map_err(err)?;
    summary_sheet(ws, s, &tallies, responses, &bold).map_err(err)?;
    let ws = wb.add_worksheet().set_name("答卷").map_err(err)?;
    answer_sheet(ws, &tallies, &answers, &sheets, names.as_ref(), &bold).map_err(err)?;
    wb.save_to_buffer().map_err(err)
}

/// 汇总: each question with its counts, average and free-text answers.
fn summary_sheet(
    ws: &mut rust_xlsxwriter::Worksheet,
    s: &Survey,
    tallies: &[Tally],
    responses: i64,
    bold: &rust_xlsxwriter::Format,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    ws.write_string_with_format(0, 0, format!("{}（共 {responses} 份）", s.title), bold)?;
    let mut r = 2u32;
    for t in tallies {
        let heading = format!("{}. {}", t.q.position.saturating_add(1), t.q.prompt);
        ws.write_string_with_format(r, 0, heading, bold)?;
        r = r.saturating_add(1);
        for (label, n) in &t.bars {
            ws.write_string(r, 0, label)?;
            ws.write_number(r, 1, *n as f64)?;
            r = r.saturating_add(1);
        }
        if let Some(a) = t.average {
            ws.write_string(r, 0, "平均分")?;
            ws.write_number(r, 1, a)?;
            r = r.saturating_add(1);
        }
        for text in &t.texts {
            ws.write_string(r, 0, text)?;
            r = r.saturating_add(1);
        }
        r = r.saturating_add(1);
    }
    ws.set_column_width(0, 40)?;
    Ok(())
}

/// 答卷: one row per answer sheet, one column per question; name and unit columns when the
/// survey is named (`names` is `None` for an anonymous one).
fn answer_sheet(
    ws: &mut rust_xlsxwriter::Worksheet,
    tallies: &[Tally],
    answers: &[model::AnswerRow],
    sheets: &[model::Sheet],
    names: Option<&HashMap<i32, (String, String)>>,
    bold: &rust_xlsxwriter::Format,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    ws.write_string_with_format(0, 0, "序号", bold)?;
    let mut c0 = 0u16;
    if names.is_some() {
        ws.write_string_with_format(0, 1, "姓名", bold)?;
        ws.write_string_with_format(0, 2, "单位", bold)?;
        c0 = 2;
    }
    let col = |i: usize| c0.saturating_add(1).saturating_add(i as u16);
    for (i, t) in tallies.iter().enumerate() {
        ws.write_string_with_format(0, col(i), &t.q.prompt, bold)?;
    }
    type Row<'a> = (Option<&'a (String, String)>, Vec<String>);
    let mut rows: Vec<Row<'_>> = sheets
        .iter()
        .map(|(rid, member, _)| {
            let who = member.and_then(|m| names.and_then(|ns| ns.get(&m)));
            (
                who,
                tallies.iter().map(|t| cell(t, answers, *rid)).collect(),
            )
        })
        .collect();
    // An anonymous survey's sheets by their content, not in the order they came in: that
    // order could name a respondent.
    if names.is_none() {
        rows.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    }
    for (row, (who, cells)) in rows.iter().enumerate() {
        let r = (row as u32).saturating_add(1);
        ws.write_number(r, 0, row.saturating_add(1) as f64)?;
        if let Some((n, u)) = who {
            ws.write_string(r, 1, n)?;
            ws.write_string(r, 2, u)?;
        }
        for (i, c) in cells.iter().enumerate() {
            ws.write_string(r, col(i), c)?;
        }
    }
    Ok(())
}

/// One answer sheet's answer to one question, as the export shows it.
fn cell(t: &Tally, answers: &[model::AnswerRow], rid: i32) -> String {
    let opts = t.q.option_list();
    answers
        .iter()
        .filter(|a| a.0 == rid && a.2 == t.q.id)
        .map(|a| {
            if let Some(c) = a.3 {
                opts.get(c as usize).cloned().unwrap_or_default()
            } else if let Some(v) = a.5 {
                v.to_string()
            } else {
                a.4.clone().unwrap_or_default()
            }
        })
        .collect::<Vec<String>>()
        .join("；")
}
