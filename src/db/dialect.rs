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
