//! Leases in the database: of several instances running the same job, one holds the lease for
//! a while and the others skip their turn.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::job_leases;
use crate::db::{write_tx, DbConnection};
use crate::error::AppResult;

/// Take or renew the lease `name` for `holder` until `now + ttl`. True when this holder has it.
pub fn try_acquire(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    now: NaiveDateTime,
    ttl: Duration,
) -> AppResult<bool> {
    write_tx(conn, |conn| {
        let taken = diesel::update(
            job_leases::table.filter(job_leases::name.eq(name)).filter(
                job_leases::expires_at
                    .lt(now)
                    .or(job_leases::holder.eq(holder)),
            ),
        )
        .set((
            job_leases::holder.eq(holder),
            job_leases::expires_at.eq(crate::time::plus(now, ttl)),
        ))
        .execute(conn)?;
        if taken == 1 {
            return Ok(true);
        }
        let exists: i64 = job_leases::table
            .filter(job_leases::name.eq(name))
            .count()
            .get_result(conn)?;
        if exists > 0 {
            return Ok(false);
        }
        diesel::insert_into(job_leases::table)
            .values((
                job_leases::name.eq(name),
                job_leases::holder.eq(holder),
                job_leases::expires_at.eq(crate::time::plus(now, ttl)),
            ))
            .execute(conn)?;
        Ok(true)
    })
}
