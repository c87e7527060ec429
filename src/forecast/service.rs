//! The forecast on the activity form. No request trains: the background job trains under its
//! lease, once per tick at most across all instances, when there is no model, it is a day old or
//! a cadre asked, and stores it (`store`); each instance loads the newest stored model and keeps
//! it in memory. Until there is one, the form shows the best simple figure and says the model is
//! being prepared.

use std::sync::{Arc, RwLock};

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::history::{company_of, History};
use super::{backtest_model, store, Backtest, Forecast, Model, Plan};
use crate::db::DbConnection;
use crate::error::AppResult;

/// The stored model this instance uses, by its id.
pub struct Ready {
    pub id: i32,
    pub model: Model,
}

/// The model shared by this instance's requests.
#[derive(Default)]
pub struct ForecastState(RwLock<Option<Arc<Ready>>>);

/// Hold out the most recent fifth of the history (at least 10) when measuring accuracy.
pub fn held_out_for(n: usize) -> usize {
    (n / 5).max(10).min(n.saturating_sub(10))
}

/// Train on the whole history and measure accuracy with a backtest.
/// (The stored model's weights are those the backtest measured: trained on the older
/// activities, with every newer one in its counters.)
pub fn train_full(h: &History, now: NaiveDateTime) -> Model {
    backtest_model(h, held_out_for(h.rows.len()), now).1
}

/// A model older than this is retrained (the nightly refresh).
const MAX_AGE_HOURS: i64 = 24;
/// The settings key a cadre's "retrain" sets (the time asked).
const RETRAIN_ASKED: &str = "forecast.retrain_asked";
/// The fewest past activities worth a model.
const MIN_ACTIVITIES: usize = 20;
/// A cadre's ask is taken up at most this long after the last training: pressing "retrain"
/// again and again (any staff member can) cannot keep the job training without pause.
const RETRAIN_GAP_MINUTES: i64 = 10;
/// How long the training lease holds if its holder dies mid-training.
const LEASE_MINUTES: i64 = 15;

/// Ask the job to retrain at its next round (a cadre's button).
pub fn ask_retrain(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<()> {
    // To the microsecond (PostgreSQL's precision): asked a moment after a training is "since".
    let at = now.and_utc().timestamp_micros().to_string();
    crate::settings::set(conn, RETRAIN_ASKED, &at, now)
}

/// Whether the job should train now: no model, a day-old one, or a retrain asked since (at
/// most one every `RETRAIN_GAP_MINUTES`).
fn due(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<bool> {
    let Some((id, trained_at)) = store::latest(conn)? else {
        return Ok(true);
    };
    // A model this version cannot read (another version's format) is replaced at once, not
    // after a day of forecasts without it.
    if store::load(conn, id).is_err() {
        return Ok(true);
    }
    if now.signed_duration_since(trained_at).num_hours() >= MAX_AGE_HOURS {
        return Ok(true);
    }
    if now.signed_duration_since(trained_at).num_minutes() < RETRAIN_GAP_MINUTES {
        return Ok(false);
    }
    let asked = crate::settings::get(conn, RETRAIN_ASKED)?.and_then(|v| v.parse::<i64>().ok());
    Ok(asked.is_some_and(|t| t >= trained_at.and_utc().timestamp_micros()))
}

/// One round of the training job, run by every instance each tick: the lease and the tick's
/// claim let one instance train per tick. Returns the backtest line when it trained.
pub fn train_round(
    conn: &mut DbConnection,
    holder: &str,
    now: NaiveDateTime,
    every_secs: i64,
) -> AppResult<Option<String>> {
    use crate::workflow::lease;
    // The lease is held only while training (checked again under it): an instance that stops
    // between trainings leaves none behind.
    if !due(conn, now)? {
        return Ok(None);
    }
    let ttl = chrono::Duration::minutes(LEASE_MINUTES);
    if !lease::try_acquire(conn, "forecast", holder, now, ttl)? {
        return Ok(None);
    }
    let trained = train_under_lease(conn, holder, now, every_secs);
    lease::release(conn, "forecast", holder)?;
    trained
}

fn train_under_lease(
    conn: &mut DbConnection,
    holder: &str,
    now: NaiveDateTime,
    every_secs: i64,
) -> AppResult<Option<String>> {
    use crate::workflow::lease;
    if !lease::claim_run(conn, "forecast", lease::tick_start(now, every_secs), holder)? {
        return Ok(None);
    }
    if !due(conn, now)? {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let h = History::load(conn, now)?;
    if h.rows.len() < MIN_ACTIVITIES {
        return Ok(None);
    }
    let m = train_full(&h, now);
    store::save(conn, &m.stored(), started.elapsed().as_millis())?;
    Ok(m.accuracy.map(|b| b.line()))
}

impl ForecastState {
    /// The model this instance holds, if any.
    pub fn current(&self) -> Option<Arc<Ready>> {
        self.0.read().ok().and_then(|g| g.clone())
    }

    /// Take up the newest stored model if it is not the one held: its counters are rebuilt
    /// from `h` (no training). The job calls it every tick; a request only on an instance
    /// that holds none yet.
    pub fn refresh(&self, conn: &mut DbConnection, h: &History) -> AppResult<Option<Arc<Ready>>> {
        let Some((id, _)) = store::latest(conn)? else {
            return Ok(None);
        };
        if let Some(r) = self.current().filter(|r| r.id == id) {
            return Ok(Some(r));
        }
        let stored = match store::load(conn, id) {
            Ok(Some(s)) => s,
            // Gone (two newer saves kept only the newest two): keep what this instance holds.
            Ok(None) => return Ok(self.current()),
            // Unreadable (stored by another version, a damaged row): the form falls back to
            // what this instance holds or the simple figure instead of failing; `due` retrains.
            Err(e) => {
                log::warn!("{e}");
                return Ok(self.current());
            }
        };
        let ready = Arc::new(Ready {
            id,
            model: Model::from_stored(stored, &h.rows),
        });
        if let Ok(mut g) = self.0.write() {
            *g = Some(ready.clone());
        }
        Ok(Some(ready))
    }

    /// The job's per-tick refresh: load the history only when there is a newer model.
    pub fn refresh_if_newer(&self, conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<()> {
        let newest = store::latest(conn)?.map(|l| l.0);
        if newest.is_some() && newest != self.current().map(|r| r.id) {
            let h = History::load(conn, now)?;
            self.refresh(conn, &h)?;
        }
        Ok(())
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
    /// The planned activity's kind (its backtest decides whether the model is shown).
    pub kind: String,
    pub capacity: i32,
    pub evidence: Vec<Evidence>,
    /// The best other start times in the next four weeks.
    pub alternatives: super::slots::Alternatives,
    pub accuracy: Option<Backtest>,
    pub trained_on: usize,
    pub trained_at: String,
    pub took_ms: u128,
    /// No trained model yet: the form shows the best simple figure.
    pub preparing: bool,
    /// A cadre has just asked for a retrain.
    pub asked: bool,
}

impl ForecastView {
    /// The point forecast (the median of the predicted counts).
    pub fn expected(&self) -> i64 {
        self.f.median.round() as i64
    }
    /// Whether the model earned its place for this kind: its backtest on held-out activities
    /// of the kind (at least three) or, without those, overall, beats the kind's mean. When it
    /// does not, the form shows the mean and says why.
    pub fn model_trusted(&self) -> bool {
        if self.preparing {
            return false;
        }
        let Some(b) = &self.accuracy else {
            return true;
        };
        match b.per_kind.iter().find(|k| k.0 == self.kind) {
            Some((_, n, model, base)) if *n >= 3 => model < base,
            _ => b.model_mae < b.baseline_mae,
        }
    }
    /// The number the form leads with: the model's, or the kind's mean when the model lost.
    pub fn shown(&self) -> i64 {
        if self.model_trusted() {
            self.expected()
        } else {
            self.baseline()
        }
    }
    pub fn honesty_line(&self) -> String {
        if self.preparing {
            return format!(
                "预测模型正在后台准备（首次使用或每日更新，通常几分钟内完成），这里先显示{}的估计。",
                self.baseline_name()
            );
        }
        let figures = self
            .accuracy
            .as_ref()
            .and_then(|b| b.per_kind.iter().find(|k| k.0 == self.kind))
            .map(|(_, n, m, b)| {
                format!("（最近 {n} 个同类活动：模型误差 {m:.1} 人，简单估计误差 {b:.1} 人）")
            })
            .unwrap_or_default();
        format!(
            "“{}”类活动的模型回测不比{}更准{figures}，所以这里显示{}的估计。",
            self.kind,
            self.baseline_name(),
            self.baseline_name()
        )
    }
    pub fn rate(&self) -> String {
        format!("{:.0}%", self.f.rate() * 100.0)
    }
    /// The baseline in words ("按以往同类活动的中位数").
    pub fn baseline_name(&self) -> &'static str {
        self.accuracy
            .as_ref()
            .map_or(super::baselines::Simple::KindMedian, |b| b.best)
            .label()
    }
    pub fn over_capacity(&self) -> bool {
        self.shown() > i64::from(self.capacity)
    }
    pub fn waitlist(&self) -> i64 {
        self.shown().saturating_sub(i64::from(self.capacity)).max(0)
    }
    pub fn baseline(&self) -> i64 {
        self.f.baseline.round() as i64
    }
    pub fn accuracy_line(&self) -> String {
        match &self.accuracy {
            Some(b) => format!(
                "回测最近 {} 个活动：平均误差 {:.1} 人（{}估计为 {:.1} 人，{} {:.0}%）；{:.0}% 的实际人数落在 80% 区间内",
                b.held_out,
                b.model_mae,
                b.best.label(),
                b.baseline_mae,
                if b.improvement() >= 0.0 { "降低" } else { "反而高出" },
                b.improvement().abs(),
                b.coverage * 100.0
            ),
            None => "历史活动不足，暂无法评估准确度".into(),
        }
    }
}

/// Forecast a planned activity for an audience (unit ids), with the most similar past ones.
/// `retrain` asks the job for a new model; nothing here trains. `visible`: the units the cadre
/// manages (the evidence names only their activities).
pub fn forecast(
    conn: &mut DbConnection,
    state: &ForecastState,
    audience: &[i32],
    visible: &[i32],
    plan: &Plan,
    now: NaiveDateTime,
    retrain: bool,
) -> AppResult<ForecastView> {
    let started = std::time::Instant::now();
    if retrain {
        ask_retrain(conn, now)?;
    }
    let h = History::load(conn, now)?;
    // The job takes up a newer model every tick; a request rebuilds the counters only on an
    // instance that holds none (else every request between a save and the next tick would).
    let ready = match state.current() {
        Some(r) => Some(r),
        None => state.refresh(conn, &h)?,
    };
    let invited = h.invited(audience);
    let usual = super::slots::usual_times(&h.rows);
    let (f, alternatives) = match &ready {
        Some(r) => (
            r.model.forecast(&invited, plan),
            super::slots::alternatives(&r.model, &invited, plan, &usual, now),
        ),
        None => {
            let past = super::baselines::Past::of(&h.rows);
            let b = past.predict(super::baselines::Simple::KindMedian, plan, invited.len());
            let f = Forecast {
                audience: invited.len(),
                expected: b,
                median: b,
                low: 0,
                high: 0,
                baseline: b,
            };
            (f, Default::default())
        }
    };
    let evidence = evidence(conn, &h, audience, visible, plan)?;
    Ok(ForecastView {
        f,
        kind: plan.kind.clone(),
        capacity: plan.capacity,
        evidence,
        alternatives,
        accuracy: ready.as_ref().and_then(|r| r.model.accuracy.clone()),
        trained_on: ready.as_ref().map_or(0, |r| r.model.trained_on),
        trained_at: ready.as_ref().map_or(String::new(), |r| {
            crate::web::beijing(&r.model.trained_at, "%m-%d %H:%M")
        }),
        took_ms: started.elapsed().as_millis(),
        preparing: ready.is_none(),
        asked: retrain,
    })
}

/// The five past activities most like the plan, of those published by a unit in `visible`:
/// same kind first, then the same publisher / company, the same time slot; the newest first
/// among equals.
fn evidence(
    conn: &mut DbConnection,
    h: &History,
    audience: &[i32],
    visible: &[i32],
    plan: &Plan,
) -> AppResult<Vec<Evidence>> {
    let visible: std::collections::HashSet<i32> = visible.iter().copied().collect();
    let slot = |t: NaiveDateTime| {
        let l = crate::time::to_beijing(&t);
        (l.weekday().num_days_from_monday() >= 5, l.hour() >= 18)
    };
    let target_company = audience
        .first()
        .and_then(|u| h.paths.get(u))
        .map_or(0, |p| company_of(p));
    let mut scored: Vec<(i32, &super::history::PastRow)> = h
        .rows
        .iter()
        .filter(|r| visible.contains(&r.unit_id))
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
    scored.truncate(5);
    let titles =
        crate::activities::model::titles(conn, &scored.iter().map(|r| r.1.id).collect::<Vec<_>>())?;
    Ok(scored
        .iter()
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
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{Backtest, Forecast, ForecastView};

    fn view(
        kind: &str,
        per_kind: Vec<(String, usize, f64, f64)>,
        overall: (f64, f64),
    ) -> ForecastView {
        ForecastView {
            f: Forecast {
                audience: 100,
                expected: 12.4,
                median: 12.0,
                low: 8,
                high: 17,
                baseline: 20.0,
            },
            kind: kind.into(),
            capacity: 30,
            evidence: Vec::new(),
            alternatives: Default::default(),
            accuracy: Some(Backtest {
                held_out: 20,
                model_mae: overall.0,
                baseline_mae: overall.1,
                coverage: 0.8,
                per_kind,
                baselines: Vec::new(),
                best: crate::forecast::baselines::Simple::KindMedian,
            }),
            trained_on: 80,
            trained_at: String::new(),
            took_ms: 1,
            preparing: false,
            asked: false,
        }
    }

    #[test]
    fn the_form_leads_with_the_best_simple_figure_where_the_model_lost_its_backtest_for_the_kind() {
        let kinds = vec![
            ("讲座培训".to_string(), 5, 4.0, 3.0),
            ("文体活动".to_string(), 5, 2.0, 3.0),
        ];
        let lost = view("讲座培训", kinds.clone(), (2.5, 3.0));
        assert!(!lost.model_trusted());
        assert_eq!(lost.shown(), 20, "the best simple figure");
        let line = lost.honesty_line();
        assert!(
            line.contains("模型误差 4.0 人，简单估计误差 3.0 人"),
            "{line}"
        );
        assert!(line.contains("按以往同类活动的中位数"), "{line}");
        let won = view("文体活动", kinds.clone(), (2.5, 3.0));
        assert!(won.model_trusted());
        assert_eq!(won.shown(), 12);
        // Too few held-out activities of the kind: the overall backtest decides.
        let thin = view(
            "志愿服务",
            vec![("志愿服务".to_string(), 2, 9.0, 1.0)],
            (2.5, 3.0),
        );
        assert!(thin.model_trusted());
        let overall_lost = view("志愿服务", Vec::new(), (3.5, 3.0));
        assert!(!overall_lost.model_trusted());
    }
}
