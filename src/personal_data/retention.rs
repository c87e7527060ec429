//! Retention driven by the registry: once a departed member's period is over, their rows in
//! `DeleteMine` tables go, and in `Scrub` tables their name, employee number and phone are
//! replaced with the placeholder where they were copied: labels by their link, contact columns
//! in their own rows, number and phone as whole words in any text, the name in text the portal
//! composed (notification titles, audit details) and in their own writing. A namesake's name
//! and a longer number that contains theirs are left alone.

use diesel::sql_types::{Integer, Text};
use diesel::RunQueryDsl;

use super::{Col, Leave, Table, REGISTRY};
use crate::db::DbConnection;
use crate::error::AppResult;

pub const PLACEHOLDER: &str = "已注销会员";

/// Whose data is scrubbed: the member (if they had an account) and the strings that name them.
pub struct Subject<'a> {
    pub member_id: Option<i32>,
    pub name: &'a str,
    /// Employee number and phone: unique to the person, replaced wherever they appear.
    pub identifiers: &'a [&'a str],
}

impl Subject<'_> {
    /// The name as a needle: two characters or more, not the placeholder itself.
    fn name_needle(&self) -> Option<&str> {
        Some(self.name).filter(|n| n.chars().count() >= 2 && *n != PLACEHOLDER)
    }

    /// Number and phone as needles: four characters or more (a shorter one would match
    /// everywhere), never the placeholder's own `removed-N`.
    fn identifiers(&self) -> Vec<&str> {
        self.identifiers
            .iter()
            .copied()
            .map(str::trim)
            .filter(|n| n.chars().count() >= 4 && !n.starts_with("removed-"))
            .collect()
    }

    /// Everything that names the subject (to find the rows whose search tokens change).
    fn needles(&self) -> Vec<&str> {
        self.name_needle()
            .into_iter()
            .chain(self.identifiers())
            .collect()
    }
}

/// Scrub every table the registry marks. Returns the number of rows changed or deleted.
/// Call inside the transaction that anonymises the member.
pub fn scrub(conn: &mut DbConnection, who: &Subject<'_>) -> AppResult<usize> {
    let mut changed = 0usize;
    for t in REGISTRY {
        let mine = who
            .member_id
            .zip(t.mine)
            .map(|(id, cond)| cond.replace('?', &id.to_string()));
        match t.leave {
            Leave::Keep(_) | Leave::Rewrite(_) => continue,
            Leave::DeleteMine => {
                if let Some(cond) = &mine {
                    // Table names and conditions are the registry's constants.
                    let sql = format!("DELETE FROM {} WHERE {cond}", t.name);
                    changed = changed.saturating_add(diesel::sql_query(sql).execute(conn)?);
                }
            }
            Leave::Scrub => {}
        }
        let touched = rows_to_rederive(conn, t, who)?;
        for (col, kind) in t.scrubbed() {
            changed = changed.saturating_add(scrub_column(conn, t.name, col, kind, who, &mine)?);
        }
        rederive(conn, t, &touched)?;
    }
    Ok(changed)
}

/// Ids of the rows whose token sources mention the subject (before the scrub changes them).
fn rows_to_rederive(conn: &mut DbConnection, t: &Table, who: &Subject<'_>) -> AppResult<Vec<i32>> {
    let sources: Vec<&str> = t
        .cols
        .iter()
        .filter_map(|(_, c)| match c {
            Col::Derived(from) => Some(from.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut ids = Vec::new();
    for needle in who.needles() {
        for col in &sources {
            let sql = format!(
                "SELECT CAST(id AS TEXT) AS line FROM {} WHERE {col} LIKE '%' || $1 || '%'",
                t.name
            );
            let rows = diesel::sql_query(sql)
                .bind::<Text, _>(needle)
                .load::<Line>(conn)?;
            ids.extend(rows.into_iter().filter_map(|r| r.line.parse::<i32>().ok()));
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Recompute the search tokens of these rows from their (scrubbed) sources.
fn rederive(conn: &mut DbConnection, t: &Table, ids: &[i32]) -> AppResult<()> {
    for (col, kind) in t.cols {
        let Col::Derived(from) = kind else { continue };
        let joined = from
            .iter()
            .map(|c| format!("COALESCE({c}, '')"))
            .collect::<Vec<_>>()
            .join(" || ' ' || ");
        for id in ids {
            let sql = format!("SELECT {joined} AS line FROM {} WHERE id = $1", t.name);
            let source = diesel::sql_query(sql)
                .bind::<Integer, _>(*id)
                .get_result::<Line>(conn)?
                .line;
            let sql = format!("UPDATE {} SET {col} = $1 WHERE id = $2", t.name);
            diesel::sql_query(sql)
                .bind::<Text, _>(crate::search::token_string(&source))
                .bind::<Integer, _>(*id)
                .execute(conn)?;
        }
    }
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

fn scrub_column(
    conn: &mut DbConnection,
    table: &str,
    col: &str,
    kind: Col,
    who: &Subject<'_>,
    mine: &Option<String>,
) -> AppResult<usize> {
    let mut changed = 0usize;
    let mut set = |conn: &mut DbConnection, cond: &str, value: &str| -> AppResult<()> {
        let sql = format!("UPDATE {table} SET {col} = $1 WHERE ({cond}) AND {col} IS NOT NULL");
        let n = diesel::sql_query(sql)
            .bind::<Text, _>(value)
            .execute(conn)?;
        changed = changed.saturating_add(n);
        Ok(())
    };
    match (kind, who.member_id, mine) {
        // A label: where its link is the member, and in their own rows where it is their name
        // (lines written before they had an account). A namesake keeps their name.
        (Col::NameOf(link), Some(id), _) => {
            set(conn, &format!("{link} = {id}"), PLACEHOLDER)?;
            if let Some(cond) = mine {
                changed = changed.saturating_add(replace_values(
                    conn,
                    table,
                    col,
                    Some(cond),
                    who.name,
                    Bounds::Whole,
                )?);
            }
        }
        // Contact data: overwritten in the member's own rows; elsewhere only a value that is
        // exactly their number or phone (the login throttle's key).
        (Col::Contact, _, _) => {
            if let Some(cond) = mine {
                set(conn, cond, PLACEHOLDER)?;
            }
            for id in who.identifiers() {
                changed = changed.saturating_add(replace_values(
                    conn,
                    table,
                    col,
                    None,
                    id,
                    Bounds::Whole,
                )?);
            }
        }
        (Col::Text | Col::Generated, _, _) => {
            changed = changed.saturating_add(scrub_text(conn, table, col, kind, who, mine)?);
        }
        _ => {}
    }
    Ok(changed)
}

/// Free or composed text: number and phone as whole words everywhere; the name everywhere in
/// text the portal composed, in free text only in the member's own rows.
fn scrub_text(
    conn: &mut DbConnection,
    table: &str,
    col: &str,
    kind: Col,
    who: &Subject<'_>,
    mine: &Option<String>,
) -> AppResult<usize> {
    let mut changed = 0usize;
    for id in who.identifiers() {
        changed = changed.saturating_add(replace_values(conn, table, col, None, id, Bounds::Word)?);
    }
    let scope = if kind == Col::Generated {
        Some(None)
    } else {
        mine.as_deref().map(Some)
    };
    if let (Some(cond), Some(name)) = (scope, who.name_needle()) {
        changed = changed.saturating_add(replace_values(
            conn,
            table,
            col,
            cond,
            name,
            Bounds::Anywhere,
        )?);
    }
    Ok(changed)
}

/// Where a needle counts as found.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Bounds {
    /// The whole value is the needle.
    Whole,
    /// Not inside a longer run of letters and digits (ZJ1001 is not in ZJ10012).
    Word,
    /// Anywhere (a Chinese name has no spaces around it).
    Anywhere,
}

/// Replace `needle` (as `bounds` says) with the placeholder in every distinct value of the
/// column that contains it (among the rows `cond` picks): each changed value is written back
/// with `WHERE col = old`, so no primary key is needed and nothing else in the row changes.
pub fn replace_values(
    conn: &mut DbConnection,
    table: &str,
    col: &str,
    cond: Option<&str>,
    needle: &str,
    bounds: Bounds,
) -> AppResult<usize> {
    let extra = cond.map(|c| format!(" AND ({c})")).unwrap_or_default();
    let sql = format!(
        "SELECT DISTINCT CAST({col} AS TEXT) AS line FROM {table} \
         WHERE {col} LIKE '%' || $1 || '%'{extra}"
    );
    let values = diesel::sql_query(sql)
        .bind::<Text, _>(needle)
        .load::<Line>(conn)?;
    let mut changed = 0usize;
    for v in values {
        let new = replaced(&v.line, needle, bounds);
        if new == v.line {
            continue;
        }
        let sql = format!("UPDATE {table} SET {col} = $1 WHERE {col} = $2{extra}");
        changed = changed.saturating_add(
            diesel::sql_query(sql)
                .bind::<Text, _>(&new)
                .bind::<Text, _>(&v.line)
                .execute(conn)?,
        );
    }
    Ok(changed)
}

/// `text` with `needle` replaced by the placeholder where `bounds` allows.
pub fn replaced(text: &str, needle: &str, bounds: Bounds) -> String {
    match bounds {
        Bounds::Whole => {
            if text == needle {
                PLACEHOLDER.to_string()
            } else {
                text.to_string()
            }
        }
        Bounds::Anywhere => text.replace(needle, PLACEHOLDER),
        Bounds::Word => {
            let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            let mut out = String::with_capacity(text.len());
            let mut rest = text;
            while let Some(at) = rest.find(needle) {
                let (before, from) = rest.split_at(at);
                let after = from.get(needle.len()..).unwrap_or_default();
                out.push_str(before);
                let prev = out.chars().last();
                if word(prev) || word(after.chars().next()) {
                    out.push_str(from.get(..needle.len()).unwrap_or_default());
                } else {
                    out.push_str(PLACEHOLDER);
                }
                rest = after;
            }
            out.push_str(rest);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{replaced, Bounds, PLACEHOLDER};

    #[test]
    fn a_number_is_replaced_only_as_a_whole_word_and_a_value_only_when_whole() {
        let p = PLACEHOLDER;
        assert_eq!(
            replaced("ZJ1001 与 ZJ10012、xZJ1001", "ZJ1001", Bounds::Word),
            format!("{p} 与 ZJ10012、xZJ1001")
        );
        assert_eq!(
            replaced("电话13900001111。", "13900001111", Bounds::Word),
            format!("电话{p}。")
        );
        assert_eq!(replaced("2024", "2024", Bounds::Whole), p);
        assert_eq!(
            replaced("10.0.2024.1", "2024", Bounds::Whole),
            "10.0.2024.1"
        );
        assert_eq!(
            replaced("李晓红附议了您的提案", "李晓红", Bounds::Anywhere),
            format!("{p}附议了您的提案")
        );
    }
}
