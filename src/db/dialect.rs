//! The few statements whose SQL differs between SQLite and PostgreSQL.

use diesel::connection::SimpleConnection;
use diesel::query_builder::BoxedSqlQuery;

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

/// Whom a search ranks for: the reader's unit path (`org::scope::path_slots`) and the time.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub slots: [i32; crate::org::scope::PATH_SLOTS],
    pub now: chrono::NaiveDateTime,
}

impl SearchIndex {
    /// The rows of the base table a reader may open, the same rules as the pages that list
    /// them (`#` marks a bind: the time for news, then the eight path slots).
    fn visible(self) -> &'static str {
        match self {
            SearchIndex::News => {
                "NOT draft AND publish_at <= # AND id IN (SELECT article_id FROM news_audiences \
                 WHERE unit_id IN (#, #, #, #, #, #, #, #))"
            }
            // `PostStatus::Approved`: everyone sees approved posts, nobody else's others.
            SearchIndex::Showcase => "status = 'approved'",
            SearchIndex::Activities => {
                "published AND id IN (SELECT activity_id FROM activity_audiences \
                 WHERE unit_id IN (#, #, #, #, #, #, #, #))"
            }
        }
    }

    /// Bind what `visible` marks, in order.
    fn bind_visible<'f, DB, Q>(
        self,
        mut q: BoxedSqlQuery<'f, DB, Q>,
        reader: &Reader,
    ) -> BoxedSqlQuery<'f, DB, Q>
    where
        DB: diesel::backend::Backend
            + diesel::sql_types::HasSqlType<diesel::sql_types::Timestamp>
            + diesel::sql_types::HasSqlType<diesel::sql_types::Integer>,
        chrono::NaiveDateTime: diesel::serialize::ToSql<diesel::sql_types::Timestamp, DB>,
        i32: diesel::serialize::ToSql<diesel::sql_types::Integer, DB>,
    {
        if matches!(self, SearchIndex::News) {
            q = q.bind::<diesel::sql_types::Timestamp, _>(reader.now);
        }
        if !matches!(self, SearchIndex::Showcase) {
            for id in reader.slots {
                q = q.bind::<diesel::sql_types::Integer, _>(id);
            }
        }
        q
    }
}

/// `sql` with each `#` made a bind marker: `?` on SQLite, `$n` counting from `first` on
/// PostgreSQL (`first` is `None` for SQLite). Returns the SQL and the next number.
fn markers(sql: &str, first: Option<usize>) -> (String, usize) {
    let mut out = String::new();
    let mut n = first.unwrap_or(1);
    for ch in sql.chars() {
        match (ch, first) {
            ('#', None) => out.push('?'),
            ('#', Some(_)) => {
                out.push_str(&format!("${n}"));
                n = n.saturating_add(1);
            }
            _ => out.push(ch),
        }
    }
    (out, n)
}

/// Ids matching every query token that `reader` may open, best first (title matches rank
/// above body matches). The reader's rules are part of the statement, before its LIMIT, so
/// rows they may not see never push theirs out of the results.
pub fn search(
    conn: &mut DbConnection,
    index: SearchIndex,
    reader: &Reader,
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
            let (visible, _) = markers(index.visible(), None);
            let sql = format!(
                "SELECT rowid AS id FROM {fts} WHERE {fts} MATCH ? \
                 AND rowid IN (SELECT id FROM {table} WHERE {visible}) \
                 ORDER BY bm25({fts}, 10.0, 1.0) LIMIT ?"
            );
            let query = diesel::sql_query(sql)
                .into_boxed::<diesel::sqlite::Sqlite>()
                .bind::<Text, _>(q);
            index
                .bind_visible(query, reader)
                .bind::<BigInt, _>(limit)
                .load(c)?
        }
        DbConnection::Postgres(c) => {
            let (visible, next) = markers(index.visible(), Some(2));
            let sql = format!(
                "SELECT id FROM {table} WHERE search_vec @@ plainto_tsquery('simple', $1) \
                 AND {visible} \
                 ORDER BY ts_rank(search_vec, plainto_tsquery('simple', $1), 1) DESC, id DESC \
                 LIMIT ${next}"
            );
            let query = diesel::sql_query(sql)
                .into_boxed::<diesel::pg::Pg>()
                .bind::<Text, _>(clean.join(" "));
            index
                .bind_visible(query, reader)
                .bind::<BigInt, _>(limit)
                .load(c)?
        }
    };
    Ok(hits.into_iter().map(|h| h.id).collect())
}
