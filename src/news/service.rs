//! News rules: who reads what (audience = org subtrees), publishing in a cadre's own scope,
//! read receipts, and the unread list of a mandatory notice.

use chrono::NaiveDateTime;

use super::model::{self, Article, ArticleData};
use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::org::{self, scope};

use crate::org::scope::ancestors;

/// Open an article as a member: 404 unless live and in their audience. Counts the view and the
/// first read.
pub fn open(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    now: NaiveDateTime,
) -> AppResult<Article> {
    let a = readable(conn, user, id, now)?;
    // Reading is the hot path: only a first read writes (the receipt); views are counted in
    // memory (`ViewCounter`) and flushed in batches.
    if model::has_read(conn, id, user.id)? {
        return Ok(a);
    }
    match write_tx(conn, |conn| model::record_read(conn, id, user.id, now)) {
        // Two first opens at the same moment: the other one recorded the read.
        Err(AppError::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))) => {}
        other => other?,
    }
    Ok(a)
}

/// A live article in the reader's audience, else 404. Nothing is recorded.
pub fn readable(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    now: NaiveDateTime,
) -> AppResult<Article> {
    let a = model::find(conn, id)?
        .filter(|a| a.is_live(now))
        .ok_or(AppError::NotFound)?;
    let anc = ancestors(user);
    if !model::audience(conn, id)?.iter().any(|u| anc.contains(u)) {
        return Err(AppError::NotFound);
    }
    Ok(a)
}

/// Readers see an article's images and files; so do its cadres while it is a draft.
pub fn may_see_files(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
    now: NaiveDateTime,
) -> AppResult<()> {
    match readable(conn, user, id, now) {
        Err(AppError::NotFound) => load_for_staff(conn, user, id).map(|_| ()),
        other => other.map(|_| ()),
    }
}

/// What the editor posts.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ArticleForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub category_id: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub pinned: String,
    #[serde(default)]
    pub mandatory: String,
    #[serde(default)]
    pub draft: String,
    #[serde(default)]
    pub comments: String,
    /// Beijing time, "2026-12-01T09:00" (datetime-local); empty means now.
    #[serde(default)]
    pub publish_at: String,
    #[serde(default)]
    pub action: String,
}

/// Markdown as plain text on one line (for summaries and search snippets).
pub fn plain_text(body: &str) -> String {
    let plain: String = body
        .lines()
        .map(|l| l.trim_start_matches(['#', '>', '-', ' ']))
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !matches!(c, '*' | '`' | '[' | ']' | '_'))
        .collect();
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn summary_of(body: &str) -> String {
    plain_text(body).chars().take(80).collect()
}

/// An article form as checked: its category, when it goes out, and the audience units.
struct Checked {
    category: i32,
    publish_at: NaiveDateTime,
    units: Vec<crate::org::OrgUnit>,
}

/// Every check of the article form, each failure a message by its field. The audience must
/// lie in the user's reach.
fn check_article(
    conn: &mut DbConnection,
    user: &User,
    form: &ArticleForm,
    audience: &[i32],
    now: NaiveDateTime,
) -> AppResult<Checked> {
    let mut e = FieldErrors::default();
    let title = form.title.trim();
    if title.is_empty() || title.chars().count() > 80 {
        e.add("title", "请填写标题（80 字以内）");
    }
    let body = form.body.trim();
    if body.is_empty() || body.chars().count() > 50_000 {
        e.add("body", "请填写正文（5 万字以内）");
    }
    let cats = model::categories(conn)?;
    let category = form
        .category_id
        .parse::<i32>()
        .ok()
        .filter(|c| cats.iter().any(|k| k.id == *c));
    if category.is_none() {
        e.add("category_id", "请选择栏目");
    }
    let publish_at = if form.publish_at.trim().is_empty() {
        Some(now)
    } else {
        e.time("publish_at", &form.publish_at, "发布时间格式不正确")
    };
    let units = scope::audience_units(conn, user, audience, &mut e, "请选择阅读范围")?;
    match (category, publish_at) {
        (Some(category), Some(publish_at)) if e.is_empty() => Ok(Checked {
            category,
            publish_at,
            units,
        }),
        _ => Err(AppError::Fields(e)),
    }
}

/// Write an article: update `existing` or insert a new one; audited either way. Its id.
fn store(
    conn: &mut DbConnection,
    actor: &Actor,
    author: i32,
    existing: Option<i32>,
    data: &ArticleData<'_>,
) -> AppResult<i32> {
    let (id, code) = match existing {
        Some(id) => {
            model::update(conn, id, data)?;
            (id, crate::audit::AuditAction::NewsUpdate)
        }
        None => (
            model::insert(conn, data, author, actor.now)?,
            crate::audit::AuditAction::NewsCreate,
        ),
    };
    audit::record(
        conn,
        actor,
        Some(data.unit_id),
        code,
        ("news", Some(id)),
        data.title,
    )?;
    Ok(id)
}

/// Create (`id` None) or edit an article published by a unit in the user's scope, to audiences
/// in their scope. Returns the id, or field errors.
pub fn save(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: Option<i32>,
    form: &ArticleForm,
    audience: &[i32],
) -> AppResult<i32> {
    let now = actor.now;
    write_tx(conn, |conn| {
        let (title, body) = (form.title.trim(), form.body.trim());
        let Checked {
            category,
            publish_at,
            units,
        } = check_article(conn, user, form, audience, now)?;
        // The publishing unit: the top of the chosen audience (or the existing one on edit).
        let publisher = scope::lowest_common_ancestor(&units).unwrap_or(user.unit_id);
        let existing = match id {
            Some(id) => {
                let a = model::find(conn, id)?.ok_or(AppError::NotFound)?;
                let unit = org::model::find(conn, a.unit_id)?.ok_or(AppError::NotFound)?;
                if !scope::manages(user, &unit.path) {
                    return Err(AppError::NotFound);
                }
                Some(a)
            }
            None => None,
        };
        let summary = if form.summary.trim().is_empty() {
            summary_of(body)
        } else {
            form.summary.trim().chars().take(200).collect()
        };
        let data = ArticleData {
            category_id: category,
            unit_id: existing.as_ref().map_or(publisher, |a| a.unit_id),
            title,
            summary: &summary,
            body_md: body,
            pinned: form.pinned == "1",
            mandatory: form.mandatory == "1",
            draft: form.draft == "1",
            publish_at,
            title_tokens: &crate::search::token_string(title),
            body_tokens: &crate::search::token_string(&format!("{summary} {body}")),
            comments_enabled: form.comments == "1",
            updated_at: now,
        };
        let id = store(conn, actor, user.id, existing.map(|a| a.id), &data)?;
        model::set_audience(conn, id, audience)?;
        Ok(id)
    })
}

/// Store a new cover image and/or attachments on an article the cadre manages; audited.
pub fn add_files(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    cover: Option<&crate::images::Processed>,
    files: &[crate::attachments::TypedFile],
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let a = load_for_staff(conn, user, id)?;
        if let Some(img) = cover {
            let img_id = crate::images::model::insert(conn, ("news", id), 0, img, actor.now)?;
            model::set_cover(conn, id, img_id)?;
        }
        for (name, mime, data) in files {
            crate::attachments::insert(conn, ("news", id), name, mime, data, actor.now)?;
        }
        audit::record(
            conn,
            actor,
            Some(a.unit_id),
            crate::audit::AuditAction::NewsFiles,
            ("news", Some(id)),
            &format!(
                "封面 {}，附件 {} 个",
                u8::from(cover.is_some()),
                files.len()
            ),
        )
    })
}

/// An article a cadre may manage (its publishing unit is in their scope).
pub fn load_for_staff(conn: &mut DbConnection, user: &User, id: i32) -> AppResult<Article> {
    let a = model::find(conn, id)?.ok_or(AppError::NotFound)?;
    scope::require_manages(conn, user, a.unit_id)?;
    Ok(a)
}

/// Read receipts of an article: per unit (name, audience size, read), and who has not read it
/// (name, employee no, unit name).
#[allow(clippy::type_complexity)]
pub fn read_stats(
    conn: &mut DbConnection,
    article: &Article,
) -> AppResult<(Vec<(String, i64, i64)>, Vec<(String, String, String)>)> {
    let audience_units: Vec<org::OrgUnit> = {
        let ids = model::audience(conn, article.id)?;
        let paths: Vec<String> = org::model::all(conn)?
            .into_iter()
            .filter(|u| ids.contains(&u.id))
            .map(|u| u.path)
            .collect();
        org::model::under_paths(conn, &paths)?
    };
    let unit_ids: Vec<i32> = audience_units.iter().map(|u| u.id).collect();
    // (id, name, employee number, unit id) of every active member: no cap for disabled ones
    // to fill.
    let members = crate::members::model::active_in_units(conn, &unit_ids)?;
    let readers: std::collections::HashSet<i32> =
        model::readers(conn, article.id)?.into_iter().collect();
    let mut per_unit: Vec<(String, i64, i64)> = Vec::new();
    let mut unread = Vec::new();
    for u in &audience_units {
        let here: Vec<_> = members.iter().filter(|m| m.3 == u.id).collect();
        if here.is_empty() {
            continue;
        }
        let read = here.iter().filter(|m| readers.contains(&m.0)).count() as i64;
        per_unit.push((u.name.clone(), here.len() as i64, read));
        for m in here.iter().filter(|m| !readers.contains(&m.0)) {
            unread.push((m.1.clone(), m.2.clone(), u.name.clone()));
        }
    }
    Ok((per_unit, unread))
}

/// The unread list as XLSX.
pub fn unread_xlsx(title: &str, unread: &[(String, String, String)]) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let bold = Format::new().set_bold();
    ws.write_string_with_format(0, 0, format!("未读名单：{title}"), &bold)
        .map_err(err)?;
    for (c, h) in ["姓名", "工号", "单位"].iter().enumerate() {
        ws.write_string_with_format(1, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (i, (n, no, u)) in unread.iter().enumerate() {
        let r = (i as u32).saturating_add(2);
        ws.write_string(r, 0, n).map_err(err)?;
        ws.write_string(r, 1, no).map_err(err)?;
        ws.write_string(r, 2, u).map_err(err)?;
    }
    ws.set_column_width(2, 20).map_err(err)?;
    wb.save_to_buffer().map_err(err)
}

/// Article views counted in this instance's memory and added to the database in batches, so
/// reading an article costs no write. A crash loses at most the views since the last flush.
#[derive(Default)]
pub struct ViewCounter(std::sync::Mutex<std::collections::HashMap<i32, i32>>);

impl ViewCounter {
    pub fn hit(&self, id: i32) {
        if let Ok(mut m) = self.0.lock() {
            let n = m.entry(id).or_insert(0);
            *n = n.saturating_add(1);
        }
    }

    /// Views not yet flushed for one article (added to the stored count when shown).
    pub fn pending(&self, id: i32) -> i32 {
        self.0
            .lock()
            .map_or(0, |m| m.get(&id).copied().unwrap_or(0))
    }

    /// Write the buffered counts; on failure they are put back for the next flush.
    pub fn flush(&self, conn: &mut DbConnection) -> AppResult<()> {
        let batch: Vec<(i32, i32)> = match self.0.lock() {
            Ok(mut m) => m.drain().collect(),
            Err(_) => return Ok(()),
        };
        if batch.is_empty() {
            return Ok(());
        }
        if let Err(e) = write_tx(conn, |conn| model::add_views(conn, &batch)) {
            if let Ok(mut m) = self.0.lock() {
                for (id, n) in batch {
                    let count = m.entry(id).or_insert(0);
                    *count = count.saturating_add(n);
                }
            }
            return Err(e);
        }
        Ok(())
    }
}

/// Add (`id` None) or rename / reorder a news category (admins). Names are unique.
pub fn save_category(
    conn: &mut DbConnection,
    actor: &Actor,
    id: Option<i32>,
    name: &str,
    sort_order: &str,
) -> AppResult<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 12 {
        return Err(AppError::Validation("栏目名称请写 1 到 12 个字".into()));
    }
    let order: i32 = sort_order.trim().parse().unwrap_or(99).clamp(0, 999);
    write_tx(conn, |conn| {
        if model::categories(conn)?
            .iter()
            .any(|c| c.name == name && Some(c.id) != id)
        {
            return Err(AppError::Validation(format!("已有名为“{name}”的栏目")));
        }
        let id = match id {
            Some(id) => {
                if model::update_category(conn, id, name, order)? != 1 {
                    return Err(AppError::NotFound);
                }
                id
            }
            None => model::insert_category(conn, name, order)?,
        };
        audit::record(
            conn,
            actor,
            None,
            crate::audit::AuditAction::NewsCategory,
            ("news_category", Some(id)),
            name,
        )
    })
}
