//! The few statements whose SQL differs between SQLite and PostgreSQL.

use diesel::connection::SimpleConnection;

use super::DbConnection;
use crate::error::{AppError, AppResult};

/// Consistent online copy of the database into `dest`.
pub fn backup(conn: &mut DbConnection, dest: &str) -> AppResult<()> {
    match conn {
        DbConnection::Sqlite(c) => {
            // VACUUM INTO writes a consistent snapshot while other connections keep working.
            let quoted = dest.replace('\'', "''");
            c.batch_execute(&format!("VACUUM INTO '{quoted}'"))?;
            Ok(())
        }
        DbConnection::Postgres(_) => Err(AppError::Internal(
            "backup of a PostgreSQL database: use pg_dump (e.g. pg_dump -Fc zhijia > zhijia.dump)"
                .into(),
        )),
    }
}

/// Take the lease `name` for `holder` until `until` when it is free, lapsed at `now`, or
/// already `holder`'s: one `INSERT … ON CONFLICT DO UPDATE … WHERE` (SQLite 3.24+ and
/// PostgreSQL read it alike), so of any number of instances racing for a free or lapsed lease
/// exactly one gets a row back and none gets a duplicate-key error. True when `holder` has it.
pub fn take_lease(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    now: chrono::NaiveDateTime,
    until: chrono::NaiveDateTime,
) -> AppResult<bool> {
    use diesel::prelude::*;
    use diesel::sql_types::{Text, Timestamp};
    // The same statement; only the parameter markers differ.
    const SQLITE: &str = "INSERT INTO job_leases (name, holder, expires_at) VALUES (?, ?, ?) \
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
        WHERE job_leases.expires_at < ? OR job_leases.holder = excluded.holder";
    const POSTGRES: &str = "INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
        WHERE job_leases.expires_at < $4 OR job_leases.holder = excluded.holder";
    let taken = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(SQLITE)
            .bind::<Text, _>(name)
            .bind::<Text, _>(holder)
            .bind::<Timestamp, _>(until)
            .bind::<Timestamp, _>(now)
            .execute(c)?,
        DbConnection::Postgres(c) => diesel::sql_query(POSTGRES)
            .bind::<Text, _>(name)
            .bind::<Text, _>(holder)
            .bind::<Timestamp, _>(until)
            .bind::<Timestamp, _>(now)
            .execute(c)?,
    };
    Ok(taken == 1)
}

/// What can be searched: each has `title_tokens` / `body_tokens` columns, indexed by FTS5 on
/// SQLite and by a generated `search_vec` tsvector on PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub enum SearchIndex {
    News,
    Showcase,
    Activities,
}

impl SearchIndex {
    /// (FTS5 table, PostgreSQL table): static names, never from input.
    fn tables(self) -> (&'static str, &'static str) {
        match self {
            SearchIndex::News => ("news_fts", "news_articles"),
            SearchIndex::Showcase => ("showcase_fts", "showcase_posts"),
            SearchIndex::Activities => ("activities_fts", "activities"),
        }
    }
}

/// Ids matching every query token, best first (title matches rank above body matches).
pub fn search(
    conn: &mut DbConnection,
    index: SearchIndex,
    tokens: &[String],
    limit: i64,
) -> AppResult<Vec<i32>> {
    let (fts, table) = index.tables();
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Integer, Text};
    #[derive(QueryableByName)]
    struct Hit {
        #[diesel(sql_type = Integer)]
        id: i32,
    }
    // Tokens hold only letters and digits (see crate::search), so quoting them is enough.
    let clean: Vec<String> = tokens
        .iter()
        .map(|t| {
            t.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .collect();
    if clean.is_empty() {
        return Ok(Vec::new());
    }
    let hits: Vec<Hit> = match conn {
        DbConnection::Sqlite(c) => {
            let q = clean
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(" AND ");
            diesel::sql_query(format!(
                "SELECT rowid AS id FROM {fts} WHERE {fts} MATCH ? ORDER BY bm25({fts}, 10.0, 1.0) LIMIT ?"
            ))
            .bind::<Text, _>(q)
            .bind::<BigInt, _>(limit)
            .load(c)?
        }
        DbConnection::Postgres(c) => diesel::sql_query(format!(
            "SELECT id FROM {table} WHERE search_vec @@ plainto_tsquery('simple', $1) \
             ORDER BY ts_rank(search_vec, plainto_tsquery('simple', $1), 1) DESC, id DESC LIMIT $2"
        ))
        .bind::<Text, _>(clean.join(" "))
        .bind::<BigInt, _>(limit)
        .load(c)?,
    };
    Ok(hits.into_iter().map(|h| h.id).collect())
}
