//! The forecast on the activity form: the model lives in memory per instance, trained on first
//! use, retrained when a day old (the nightly refresh) or when a cadre asks.

use std::sync::{Arc, RwLock};

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::history::{company_of, History};
use super::{backtest, train, Backtest, Forecast, Model, Plan};
use crate::db::DbConnection;
use crate::error::AppResult;

/// The trained model shared by this instance's requests.
#[derive(Default)]
pub struct ForecastState(RwLock<Option<Arc<Model>>>);

/// Hold out the most recent fifth of the history (at least 10) when measuring accuracy.
pub fn held_out_for(n: usize) -> usize {
    (n / 5).max(10).min(n.saturating_sub(10))
}

/// Train on the whole history and measure accuracy with a backtest.
pub fn train_full(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<Model> {
    let h = History::load(conn, now)?;
    let bt = backtest(&h, held_out_for(h.rows.len()), now);
    let mut m = train(&h.rows, now);
    m.accuracy = Some(bt);
    Ok(m)
}

impl ForecastState {
    /// The current model, trained now if there is none, it is a day old, or `retrain`.
    pub fn model(
        &self,
        conn: &mut DbConnection,
        now: NaiveDateTime,
        retrain: bool,
    ) -> AppResult<Arc<Model>> {
        if !retrain {
            if let Ok(g) = self.0.read() {
                if let Some(m) = g
                    .as_ref()
                    .filter(|m| now.signed_duration_since(m.trained_at).num_hours() < 24)
                {
                    return Ok(m.clone());
                }
            }
        }
        let m = Arc::new(train_full(conn, now)?);
        if let Ok(mut g) = self.0.write() {
            *g = Some(m.clone());
        }
        Ok(m)
    }
}

/// A past activity shown as evidence.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub title: String,
    pub when: String,
    pub audience: usize,
    pub signed: usize,
    pub attended: usize,
}

impl Evidence {
    pub fn rate(&self) -> String {
        if self.audience == 0 {
            "—".into()
        } else {
            format!("{:.0}%", self.signed as f64 * 100.0 / self.audience as f64)
        }
    }
}

/// What the form shows.
#[derive(Debug, Clone)]
pub struct ForecastView {
    pub f: Forecast,
    pub capacity: i32,
    pub evidence: Vec<Evidence>,
    pub accuracy: Option<Backtest>,
    pub trained_on: usize,
    pub trained_at: String,
    pub took_ms: u128,
}

impl ForecastView {
    pub fn expected(&self) -> i64 {
        self.f.expected.round() as i64
    }
    pub fn rate(&self) -> String {
        format!("{:.0}%", self.f.rate() * 100.0)
    }
    pub fn over_capacity(&self) -> bool {
        self.expected() > i64::from(self.capacity)
    }
    pub fn waitlist(&self) -> i64 {
        self.expected()
            .saturating_sub(i64::from(self.capacity))
            .max(0)
    }
    pub fn baseline(&self) -> i64 {
        self.f.baseline.round() as i64
    }
    pub fn accuracy_line(&self) -> String {
        match &self.accuracy {
            Some(b) => format!(
                "回测最近 {} 个活动：平均误差 {:.1} 人（按类型平均报名率估算为 {:.1} 人，降低 {:.0}%）；{:.0}% 的实际人数落在 80% 区间内",
                b.held_out,
                b.model_mae,
                b.baseline_mae,
                b.improvement(),
                b.coverage * 100.0
            ),
            None => "历史活动不足，暂无法评估准确度".into(),
        }
    }
}

/// Forecast a planned activity for an audience (unit ids), with the most similar past ones.
pub fn forecast(
    conn: &mut DbConnection,
    state: &ForecastState,
    audience: &[i32],
    plan: &Plan,
    now: NaiveDateTime,
    retrain: bool,
) -> AppResult<ForecastView> {
    let started = std::time::Instant::now();
    let model = state.model(conn, now, retrain)?;
    let h = History::load(conn, now)?;
    let invited = h.invited(audience);
    let f = model.forecast(&invited, plan);
    // Evidence: same kind first, then the same publisher / company, the same time slot.
    let slot = |t: NaiveDateTime| {
        let l = crate::time::to_beijing(&t);
        (l.weekday().num_days_from_monday() >= 5, l.hour() >= 18)
    };
    let target_company = audience
        .first()
        .and_then(|u| h.paths.get(u))
        .map_or(0, |p| company_of(p));
    let titles =
        crate::activities::model::titles(conn, &h.rows.iter().map(|r| r.id).collect::<Vec<_>>())?;
    let mut scored: Vec<(i32, &super::history::PastRow)> = h
        .rows
        .iter()
        .map(|r| {
            let mut s: i32 = 0;
            if r.plan.kind == plan.kind {
                s = s.saturating_add(4);
            }
            if audience.contains(&r.unit_id) {
                s = s.saturating_add(2);
            } else if h.paths.get(&r.unit_id).map_or(0, |p| company_of(p)) == target_company {
                s = s.saturating_add(1);
            }
            if slot(r.plan.starts_at) == slot(plan.starts_at) {
                s = s.saturating_add(1);
            }
            (s, r)
        })
        .collect();
    scored.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.plan.starts_at.cmp(&a.1.plan.starts_at))
    });
    let evidence = scored
        .iter()
        .take(5)
        .map(|(_, r)| Evidence {
            title: titles
                .iter()
                .find(|t| t.0 == r.id)
                .map(|t| t.1.clone())
                .unwrap_or_default(),
            when: crate::web::beijing(&r.plan.starts_at, "%Y-%m-%d %H:%M"),
            audience: r.invited.len(),
            signed: r.signed.len(),
            attended: r.attended,
        })
        .collect();
    Ok(ForecastView {
        f,
        capacity: plan.capacity,
        evidence,
        accuracy: model.accuracy.clone(),
        trained_on: model.trained_on,
        trained_at: crate::web::beijing(&model.trained_at, "%m-%d %H:%M"),
        took_ms: started.elapsed().as_millis(),
    })
}
