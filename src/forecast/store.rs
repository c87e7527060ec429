//! The trained forecast model in the database, so every instance uses the one the training job
//! made (issue 32). What is stored names no person: weights, the count model, the calibration,
//! the kind table and the backtest; each instance rebuilds the member counters from the history.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::stack::Stack;
use super::Backtest;
use crate::db::schema::forecast_models as fm;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// The model as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub weights: Vec<f64>,
    pub width: f64,
    /// The kinds with a weight of their own, in the order of the weights.
    pub kinds: Vec<String>,
    pub stack: Option<Stack>,
    pub accuracy: Option<Backtest>,
    pub trained_on: usize,
    pub trained_at: NaiveDateTime,
}

/// Models kept (the newest is used; one older one for comparison when debugging).
const KEEP: i64 = 2;

/// The newest stored model's id and training time.
pub fn latest(conn: &mut DbConnection) -> AppResult<Option<(i32, NaiveDateTime)>> {
    Ok(fm::table
        .select((fm::id, fm::trained_at))
        .order(fm::id.desc())
        .first(conn)
        .optional()?)
}

pub fn load(conn: &mut DbConnection, id: i32) -> AppResult<Option<Stored>> {
    let text: Option<String> = fm::table
        .filter(fm::id.eq(id))
        .select(fm::model)
        .first(conn)
        .optional()?;
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| AppError::Internal(format!("stored forecast model {id} unreadable: {e}")))
    })
    .transpose()
}

/// Store a newly trained model and forget all but the newest few.
pub fn save(conn: &mut DbConnection, model: &Stored, took_ms: u128) -> AppResult<i32> {
    let text = serde_json::to_string(model)
        .map_err(|e| AppError::Internal(format!("forecast model not serialisable: {e}")))?;
    crate::db::write_tx(conn, |conn| {
        let id: i32 = diesel::insert_into(fm::table)
            .values((
                fm::trained_at.eq(model.trained_at),
                fm::activities.eq(i32::try_from(model.trained_on).unwrap_or(i32::MAX)),
                fm::took_ms.eq(i32::try_from(took_ms).unwrap_or(i32::MAX)),
                fm::model.eq(&text),
            ))
            .returning(fm::id)
            .get_result(conn)?;
        let keep: Vec<i32> = fm::table
            .select(fm::id)
            .order(fm::id.desc())
            .limit(KEEP)
            .load(conn)?;
        diesel::delete(fm::table.filter(fm::id.ne_all(keep))).execute(conn)?;
        Ok(id)
    })
}
