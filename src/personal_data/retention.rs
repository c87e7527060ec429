//! Retention driven by the registry: once a departed member's period is over (or a refused
//! applicant's), their rows in `DeleteMine` tables go, and in `Scrub` tables their name,
//! employee number and phone are replaced with the placeholder wherever they were copied:
//! labels by their link, contact columns in the member's own rows, and any mention in free
//! text (notification titles, audit details, letter bodies, timelines).

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
    /// What is replaced in free text: the name (two characters or more) and the identifiers.
    fn needles(&self) -> Vec<&str> {
        std::iter::once(self.name)
            .filter(|n| n.chars().count() >= 2 && *n != PLACEHOLDER)
            .chain(self.identifiers.iter().copied())
            .filter(|n| !n.trim().is_empty())
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
    match (kind, who.member_id) {
        // A label: only where its link is the member (a namesake keeps their name).
        (Col::NameOf(link), Some(id)) => {
            let sql = format!("UPDATE {table} SET {col} = $1 WHERE {link} = $2");
            changed = diesel::sql_query(sql)
                .bind::<Text, _>(PLACEHOLDER)
                .bind::<Integer, _>(id)
                .execute(conn)?;
            // Lines she wrote before she had an account (her application's first line).
            if let Some(cond) = mine {
                let sql = format!("UPDATE {table} SET {col} = $1 WHERE ({cond}) AND {col} = $2");
                changed = changed.saturating_add(
                    diesel::sql_query(sql)
                        .bind::<Text, _>(PLACEHOLDER)
                        .bind::<Text, _>(who.name)
                        .execute(conn)?,
                );
            }
        }
        // Contact data in the member's own rows.
        (Col::Contact, _) => {
            if let Some(cond) = mine {
                let sql =
                    format!("UPDATE {table} SET {col} = $1 WHERE ({cond}) AND {col} IS NOT NULL");
                changed = diesel::sql_query(sql)
                    .bind::<Text, _>(PLACEHOLDER)
                    .execute(conn)?;
            }
        }
        _ => {}
    }
    // Mentions anywhere: identifiers in contact columns, the name too in free text.
    let needles: Vec<&str> = match kind {
        Col::Text => who.needles(),
        Col::Contact => who.identifiers.to_vec(),
        _ => Vec::new(),
    };
    for needle in needles.into_iter().filter(|n| !n.trim().is_empty()) {
        let sql = format!(
            "UPDATE {table} SET {col} = REPLACE({col}, $1, $2) WHERE {col} LIKE '%' || $1 || '%'"
        );
        changed = changed.saturating_add(
            diesel::sql_query(sql)
                .bind::<Text, _>(needle)
                .bind::<Text, _>(PLACEHOLDER)
                .execute(conn)?,
        );
    }
    Ok(changed)
}
