//! Leases in the database: of several instances running the same job, one holds the lease for
//! a while and the others skip their turn. Taking or renewing is one upsert that succeeds for
//! exactly one instance however many race for it (`db::dialect::take_lease`).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::job_leases;
use crate::db::{dialect, DbConnection};
use crate::error::AppResult;

/// Take or renew the lease `name` for `holder` until `now + ttl`: free, lapsed or already this
/// holder's. True when this holder has it.
pub fn try_acquire(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    now: NaiveDateTime,
    ttl: Duration,
) -> AppResult<bool> {
    dialect::take_lease(conn, name, holder, now, crate::time::plus(now, ttl))
}

/// The start of the round of `every` seconds that `now` falls in (rounds start at multiples of
/// `every` since the Unix epoch, so every instance names a round alike).
pub fn tick_start(now: NaiveDateTime, every: i64) -> NaiveDateTime {
    let secs = now.and_utc().timestamp();
    let start = secs.saturating_sub(secs.rem_euclid(every.max(1)));
    chrono::DateTime::from_timestamp(start, 0).map_or(now, |t| t.naive_utc())
}

/// Claim the run of job `name` for the tick starting at `tick` for `holder`, and forget runs
/// older than a week. False when the tick was already claimed (a lease handed over mid-tick):
/// then this round is skipped, so each tick runs at most once (a round that fails is not
/// repeated; the next tick does its work).
pub fn claim_run(
    conn: &mut DbConnection,
    name: &str,
    tick: NaiveDateTime,
    holder: &str,
) -> AppResult<bool> {
    use crate::db::schema::job_runs;
    let row = (
        job_runs::name.eq(name),
        job_runs::tick.eq(tick),
        job_runs::holder.eq(holder),
    );
    let claimed = crate::on_backend!(conn, c => diesel::insert_into(job_runs::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    let week_ago = crate::time::minus(tick, Duration::days(7));
    diesel::delete(
        job_runs::table
            .filter(job_runs::name.eq(name))
            .filter(job_runs::tick.lt(week_ago)),
    )
    .execute(conn)?;
    Ok(claimed == 1)
}

/// Give up the lease `name` if `holder` has it (a job done before its time is up).
pub fn release(conn: &mut DbConnection, name: &str, holder: &str) -> AppResult<usize> {
    Ok(diesel::delete(
        job_leases::table
            .filter(job_leases::name.eq(name))
            .filter(job_leases::holder.eq(holder)),
    )
    .execute(conn)?)
}

/// Give up every lease `holder` has (an instance stopping): the next instance's tick takes them
/// without waiting for them to lapse.
pub fn release_all(conn: &mut DbConnection, holder: &str) -> AppResult<usize> {
    Ok(diesel::delete(job_leases::table.filter(job_leases::holder.eq(holder))).execute(conn)?)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::tick_start;
    use chrono::NaiveDate;

    #[test]
    fn rounds_start_at_multiples_of_the_tick_and_every_instant_of_a_round_names_it() {
        let at = |h, m, s, ms| {
            NaiveDate::from_ymd_opt(2026, 11, 30)
                .and_then(|d| d.and_hms_milli_opt(h, m, s, ms))
                .expect("a time")
        };
        assert_eq!(tick_start(at(10, 0, 59, 999), 60), at(10, 0, 0, 0));
        assert_eq!(tick_start(at(10, 1, 0, 0), 60), at(10, 1, 0, 0));
        assert_eq!(tick_start(at(10, 1, 3, 500), 2), at(10, 1, 2, 0));
        assert_eq!(
            tick_start(at(10, 1, 3, 500), 0),
            at(10, 1, 3, 0),
            "no division by zero"
        );
    }
}
