//! 智慧决策 forecast: how many members will sign up for a planned activity.
//!
//! Model: an L2-regularised logistic regression over (member × activity) pairs, trained in
//! process on the activity history (docs/forecast.md has the reasoning and the figures).
//! Features, all from what was known before each activity: the member's rate overall and for
//! the kind, shrunk towards their group's rate (a member with little history is like their
//! group); the group's rate and its taste for the kind; the publisher's rate for the kind, its
//! recent trend and the rate of the series (same publisher, kind, weekday and hour); how
//! recently and how often lately the member signed up and how many invitations they have let
//! pass since (long-silent members go to near zero); weekday/time slot by kind; the month; the
//! sign-up window. The expected count is the sum of the members' probabilities; the 80%
//! interval's half-width is a multiple of the binomial sd, calibrated on the final weights'
//! sequential predictions of the newer half of the training activities. The baseline to beat:
//! the best of the simple figures a cadre would use (`baselines`), measured on the same split.

// A numeric model over fixed-size feature arrays indexed by constants and bounded kind/slot indices.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

pub mod baselines;
pub mod history;
pub mod history_file;
pub mod service;
pub mod slots;

use std::collections::HashMap;

use chrono::{Datelike, NaiveDateTime, Timelike};

use history::{History, PastRow};

/// What the model knows about a planned (or past) activity.
#[derive(Debug, Clone)]
pub struct Plan {
    pub kind: String,
    /// Company (second-level unit) of the publishing unit.
    pub publisher: i32,
    /// UTC start.
    pub starts_at: NaiveDateTime,
    pub window_days: f64,
    pub capacity: i32,
}

/// A member's (invited, signed) overall and per kind (index 0..6).
type MemberCounts = ([f64; 2], [[f64; 2]; 6]);

/// (invited, signed) per kind.
type PerKind = [[f64; 2]; 6];

/// What happened lately, kept in time order (unlike the totals, it cannot leave one activity
/// out): recency and frequency of each member's sign-ups and each publisher's recent rate.
#[derive(Debug, Clone, Default)]
pub struct Recent {
    /// member → (decayed invited, decayed signed, invitations since the last sign-up, last sign-up)
    member: HashMap<i32, (f64, f64, f64, Option<NaiveDateTime>)>,
    /// publisher → (decayed invited, decayed signed)
    publisher: HashMap<i32, [f64; 2]>,
}

/// Per invitation, a member's older history counts this much less (about the last ten count).
const MEMBER_DECAY: f64 = 0.9;
/// Per activity, a publisher's older activities count this much less.
const PUBLISHER_DECAY: f64 = 0.8;

impl Recent {
    /// Take one past activity's outcome into account (call in time order).
    pub fn add(&mut self, r: &PastRow) {
        let (mut inv, mut sig) = (0.0, 0.0);
        for (m, _) in &r.invited {
            let s = r.signed.contains(m);
            let e = self.member.entry(*m).or_default();
            e.0 = e.0 * MEMBER_DECAY + 1.0;
            e.1 = e.1 * MEMBER_DECAY + if s { 1.0 } else { 0.0 };
            if s {
                e.2 = 0.0;
                if e.3.is_none_or(|t| t < r.plan.starts_at) {
                    e.3 = Some(r.plan.starts_at);
                }
            } else {
                e.2 += 1.0;
            }
            inv += 1.0;
            if s {
                sig += 1.0;
            }
        }
        let p = self.publisher.entry(r.plan.publisher).or_default();
        // Decayed per activity, weighted by audience: a rate of the latest activities.
        p[0] = p[0] * PUBLISHER_DECAY + inv;
        p[1] = p[1] * PUBLISHER_DECAY + sig;
    }
}

/// Counters of what happened before a point in time.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// The kinds with a weight of their own: the five most common in training (the portal's
    /// list or whatever a history file names); every other kind shares the sixth index.
    kinds: Vec<String>,
    member: HashMap<i32, MemberCounts>,
    /// company → per kind (invited, signed)
    company: HashMap<i32, PerKind>,
    /// publisher company → per kind (invited, signed)
    publisher: HashMap<i32, PerKind>,
    /// series (publisher, kind, weekday, hour) → (invited, signed)
    series: HashMap<(i32, usize, u32, u32), [f64; 2]>,
    kind: PerKind,
    all: [f64; 2],
    pub recent: Recent,
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(0.002, 0.998);
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

pub const N_FEATURES: usize = 1 + 5 + 6 + 3 + 18 + 2 + 1 + 5 + 12;

/// Smoothed rate: `n` pseudo-observations at `prior`.
fn smooth(c: [f64; 2], prior: f64, n: f64) -> f64 {
    (c[1] + n * prior) / (c[0] + n)
}

impl Counters {
    /// Empty counters whose kind table comes from `rows`.
    pub fn for_rows(rows: &[PastRow]) -> Counters {
        let mut n: HashMap<&str, usize> = HashMap::new();
        for r in rows {
            *n.entry(r.plan.kind.as_str()).or_default() += 1;
        }
        let mut kinds: Vec<(&str, usize)> = n.into_iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        Counters {
            kinds: kinds.iter().take(5).map(|k| k.0.to_string()).collect(),
            ..Counters::default()
        }
    }

    /// Index of an activity kind in the per-kind arrays.
    fn kind_index(&self, kind: &str) -> usize {
        self.kinds
            .iter()
            .position(|k| k == kind)
            .unwrap_or(5)
            .min(5)
    }

    /// A repeated activity: the same publisher, kind, weekday and hour (a weekly series).
    fn series_key(&self, plan: &Plan) -> (i32, usize, u32, u32) {
        let local = crate::time::to_beijing(&plan.starts_at);
        (
            plan.publisher,
            self.kind_index(&plan.kind),
            local.weekday().num_days_from_monday(),
            local.hour(),
        )
    }

    fn global_rate(&self) -> f64 {
        (self.all[1] + 1.0) / (self.all[0] + 5.0)
    }
    fn kind_rate(&self, k: usize) -> f64 {
        smooth(self.kind[k], self.global_rate(), 10.0)
    }

    /// The feature vector of member `m` (of company `c`) for a planned activity; `recent` is
    /// what happened lately (kept in time order).
    pub fn features(&self, m: i32, c: i32, plan: &Plan, recent: &Recent) -> [f64; N_FEATURES] {
        let k = self.kind_index(&plan.kind);
        let kr = self.kind_rate(k);
        let comp = self.company.get(&c).copied().unwrap_or_default();
        let comp_all = comp
            .iter()
            .fold([0.0, 0.0], |a, x| [a[0] + x[0], a[1] + x[1]]);
        let c_all = smooth(comp_all, self.global_rate(), 20.0);
        let c_kind = smooth(comp[k], kr * c_all / self.global_rate().max(1e-6), 20.0);
        let publ = self
            .publisher
            .get(&plan.publisher)
            .map(|x| x[k])
            .unwrap_or_default();
        let p_kind = smooth(publ, kr, 50.0);
        // A member with little history is taken to be like their group.
        let (overall, per_kind) = self.member.get(&m).cloned().unwrap_or_default();
        let m_rate = smooth(overall, c_all, 3.0);
        let m_kind = smooth(per_kind[k], m_rate * c_kind / c_all.max(1e-6), 3.0);
        let series = self
            .series
            .get(&self.series_key(plan))
            .copied()
            .unwrap_or_default();
        let s_rate = smooth(series, p_kind, 30.0);
        let (dinv, dsig, misses, last) = recent.member.get(&m).copied().unwrap_or_default();
        let m_recent = smooth([dinv, dsig], m_rate, 2.0);
        let p_recent = recent
            .publisher
            .get(&plan.publisher)
            .map_or(p_kind, |p| smooth(*p, p_kind, 50.0));
        let local = crate::time::to_beijing(&plan.starts_at);
        let weekend = local.weekday().num_days_from_monday() >= 5;
        let hour = local.hour();
        let slots = [
            weekend,
            !weekend && (18..=21).contains(&hour),
            !weekend && (9..=17).contains(&hour),
        ];
        let recency = last.map_or(6.0, |t| {
            ((plan.starts_at - t).num_days().max(0) as f64 + 1.0).ln()
        });
        let mut x = [0.0; N_FEATURES];
        x[0] = 1.0;
        x[1] = logit(m_rate);
        x[2] = logit(m_kind.clamp(0.001, 0.999));
        x[3] = logit(c_kind);
        x[4] = logit(p_kind);
        x[5] = recency / 6.0;
        if k < 6 {
            x[6 + k] = 1.0;
        }
        for (i, s) in slots.iter().enumerate() {
            if *s {
                x[12 + i] = 1.0;
                if k < 6 {
                    x[15 + k * 3 + i] = 1.0;
                }
            }
        }
        // Known seasons (one year of history cannot support a weight per month): the Spring
        // Festival month and the summer heat.
        x[33] = if local.month() == 2 { 1.0 } else { 0.0 };
        x[34] = if matches!(local.month(), 7 | 8) {
            1.0
        } else {
            0.0
        };
        x[35] = plan.window_days.max(0.5).ln();
        // Frequency lately, how long silent, the series and the publisher's trend, each
        // relative to the longer-run rate it refines.
        x[36] = logit(m_recent) - logit(m_rate);
        x[37] = (misses + 1.0).ln() / 4.0;
        x[38] = logit(s_rate) - logit(p_kind);
        x[39] = logit(p_recent) - logit(p_kind);
        // The group's taste for this kind, apart from its overall level.
        x[40] = logit(c_kind) - logit(c_all);
        // Each month, for histories long enough to have seen it before.
        x[41 + local.month0() as usize] = 1.0;
        x
    }

    /// Add (`sign` = 1) or take back (`sign` = -1) the outcome of one past activity in the
    /// totals (not in `recent`).
    pub fn add_signed(&mut self, r: &PastRow, sign: f64) {
        let k = self.kind_index(&r.plan.kind);
        let key = self.series_key(&r.plan);
        let series = self.series.entry(key).or_default();
        let pe = self.publisher.entry(r.plan.publisher).or_default();
        for (m, c) in &r.invited {
            let s = if r.signed.contains(m) { sign } else { 0.0 };
            let e = self.member.entry(*m).or_default();
            e.0[0] += sign;
            e.0[1] += s;
            e.1[k][0] += sign;
            e.1[k][1] += s;
            let ce = self.company.entry(*c).or_default();
            ce[k][0] += sign;
            ce[k][1] += s;
            pe[k][0] += sign;
            pe[k][1] += s;
            series[0] += sign;
            series[1] += s;
            self.kind[k][0] += sign;
            self.kind[k][1] += s;
            self.all[0] += sign;
            self.all[1] += s;
        }
    }

    /// Take one past activity into account (call in time order).
    pub fn add(&mut self, r: &PastRow) {
        self.add_signed(r, 1.0);
        self.recent.add(r);
    }
}

/// A trained model.
#[derive(Debug, Clone)]
pub struct Model {
    pub weights: Vec<f64>,
    /// Half-width of the 80% interval in binomial standard deviations (calibrated).
    pub width: f64,
    /// Mean sign-up rate per kind name (the baseline), and over all kinds for a kind not seen.
    pub kind_rates: HashMap<String, f64>,
    pub overall_rate: f64,
    pub counters: Counters,
    pub trained_on: usize,
    pub trained_at: NaiveDateTime,
    /// From the last backtest: (model MAE, baseline MAE, coverage).
    pub accuracy: Option<Backtest>,
    /// The past activities' counts, for the simple figures.
    pub past: baselines::Past,
}

#[derive(Debug, Clone)]
pub struct Backtest {
    pub held_out: usize,
    pub model_mae: f64,
    /// The best simple figure's MAE (`best`).
    pub baseline_mae: f64,
    pub coverage: f64,
    /// Per activity kind: (kind, held-out activities, model MAE, the best figure's MAE), by
    /// kind name.
    pub per_kind: Vec<(String, usize, f64, f64)>,
    /// Every simple figure's MAE on the same split, in `Simple::ALL` order.
    pub baselines: Vec<(baselines::Simple, f64)>,
    /// The simple figure with the lowest MAE: the baseline to beat.
    pub best: baselines::Simple,
}

impl Backtest {
    pub fn improvement(&self) -> f64 {
        if self.baseline_mae == 0.0 {
            0.0
        } else {
            (1.0 - self.model_mae / self.baseline_mae) * 100.0
        }
    }
    /// The line scripts read.
    pub fn line(&self) -> String {
        format!(
            "model MAE {:.2}, baseline MAE {:.2}, improvement {:.1}%, coverage {:.1}%",
            self.model_mae,
            self.baseline_mae,
            self.improvement(),
            self.coverage * 100.0
        )
    }
}

/// A forecast for one planned activity.
#[derive(Debug, Clone)]
pub struct Forecast {
    pub audience: usize,
    pub expected: f64,
    pub low: i64,
    pub high: i64,
    pub baseline: f64,
}

impl Forecast {
    pub fn rate(&self) -> f64 {
        if self.audience == 0 {
            0.0
        } else {
            self.expected / self.audience as f64
        }
    }
}

/// z for a two-sided 80% interval (the width before calibration).
const Z80: f64 = 1.2816;

/// L2 penalty: strong enough that kind × time-slot cells seen a few times do not overfit.
const LAMBDA: f64 = 50.0;

/// Train on the given past activities (oldest first), then calibrate the 80% interval on the
/// final weights' own sequential predictions of the newer half of the training activities
/// (each predicted from the counters of the activities before it, as in use): the
/// half-width multiplier is the smallest that holds 80% of those outcomes in the rounded
/// interval. Calibrating on in-sample fits would understate the error.
pub fn train(rows: &[PastRow], now: NaiveDateTime) -> Model {
    let mut model = train_core(rows, now);
    let mut counters = Counters::for_rows(rows);
    let mut calib: Vec<(f64, f64, f64)> = Vec::new();
    let from = rows.len() / 2;
    for (i, r) in rows.iter().enumerate() {
        if i >= from {
            let (mu, var) = predict_with(&model.weights, &counters, &r.invited, &r.plan);
            calib.push((mu, var.max(1e-9).sqrt(), r.signed.len() as f64));
        }
        counters.add(r);
    }
    if calib.len() >= 10 {
        model.width = calibrate_width(&calib);
    }
    model
}

/// The share of the calibration slice the interval must hold. Above 80% because the final
/// weights have seen the slice (their errors there understate new activities') and held-out
/// activities lie further from the training data than the slice does.
const CALIBRATION_TARGET: f64 = 0.85;

/// The smallest multiplier of the binomial sd whose rounded intervals hold 80% of `calib`
/// (expected, sd, actual).
fn calibrate_width(calib: &[(f64, f64, f64)]) -> f64 {
    let holds = |w: f64| {
        calib
            .iter()
            .filter(|(mu, sd, y)| {
                let (lo, hi) = bounds(*mu, w * sd);
                lo <= *y && *y <= hi
            })
            .count() as f64
            / calib.len() as f64
    };
    let mut w = 0.2;
    while w < 8.0 && holds(w) < CALIBRATION_TARGET {
        w += 0.05;
    }
    w
}

/// The rounded interval around `mu` with half-width `half`.
fn bounds(mu: f64, half: f64) -> (f64, f64) {
    ((mu - half).floor().max(0.0), (mu + half).ceil())
}

/// Newton–Raphson (IRLS) for L2-regularised logistic regression. `pairs` replays the
/// training pairs (features, outcome) on each pass, so memory does not grow with them.
fn fit(pairs: impl Fn(&mut dyn FnMut(&[f64; N_FEATURES], f64)), lambda: f64) -> Vec<f64> {
    let d = N_FEATURES;
    let mut w = vec![0.0; d];
    for _ in 0..8 {
        let mut grad = vec![0.0; d];
        let mut hess = vec![0.0; d * d];
        let mut n = 0usize;
        pairs(&mut |x, y| {
            n += 1;
            let z: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
            let p = sigmoid(z);
            let r = p - y;
            let s = p * (1.0 - p);
            for i in 0..d {
                if x[i] == 0.0 {
                    continue;
                }
                grad[i] += r * x[i];
                let xi = x[i] * s;
                for j in i..d {
                    hess[i * d + j] += xi * x[j];
                }
            }
        });
        if n == 0 {
            break;
        }
        for i in 0..d {
            grad[i] += lambda * w[i];
            hess[i * d + i] += lambda;
            for j in 0..i {
                hess[i * d + j] = hess[j * d + i];
            }
        }
        let Some(step) = solve(&mut hess, &grad, d) else {
            break;
        };
        let mut change = 0.0;
        for i in 0..d {
            w[i] -= step[i];
            change += step[i].abs();
        }
        if change < 1e-6 {
            break;
        }
    }
    w
}

/// Solve A x = b (A symmetric positive definite, d × d) by Gaussian elimination.
fn solve(a: &mut [f64], b: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut b = b.to_vec();
    for col in 0..d {
        let piv = (col..d).max_by(|&i, &j| {
            a[i * d + col]
                .abs()
                .partial_cmp(&a[j * d + col].abs())
                .unwrap_or(std::cmp::Ordering::Equal)
        })?;
        if a[piv * d + col].abs() < 1e-12 {
            return None;
        }
        if piv != col {
            for k in 0..d {
                a.swap(piv * d + k, col * d + k);
            }
            b.swap(piv, col);
        }
        for r in col + 1..d {
            let f = a[r * d + col] / a[col * d + col];
            if f == 0.0 {
                continue;
            }
            for k in col..d {
                a[r * d + k] -= f * a[col * d + k];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = vec![0.0; d];
    for r in (0..d).rev() {
        let s: f64 = (r + 1..d).map(|k| a[r * d + k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r * d + r];
    }
    Some(x)
}

fn predict_with(w: &[f64], counters: &Counters, invited: &[(i32, i32)], plan: &Plan) -> (f64, f64) {
    let mut mu = 0.0;
    let mut var = 0.0;
    for (m, c) in invited {
        let x = counters.features(*m, *c, plan, &counters.recent);
        let p = sigmoid(x.iter().zip(w).map(|(a, b)| a * b).sum());
        mu += p;
        var += p * (1.0 - p);
    }
    (mu, var)
}

/// Replay the training pairs: the totals leave the activity itself out (so rates carry
/// information from the first activity on without seeing its own outcome); what happened
/// lately is taken in time order.
fn training_pairs(rows: &[PastRow], all: &Counters, each: &mut dyn FnMut(&[f64; N_FEATURES], f64)) {
    let mut counters = all.clone();
    counters.recent = Recent::default();
    for r in rows {
        counters.add_signed(r, -1.0);
        for (m, c) in &r.invited {
            let x = counters.features(*m, *c, &r.plan, &counters.recent);
            each(&x, if r.signed.contains(m) { 1.0 } else { 0.0 });
        }
        counters.add_signed(r, 1.0);
        counters.recent.add(r);
    }
}

/// Train on the given past activities (oldest first); the counters end up holding all of them.
fn train_core(rows: &[PastRow], now: NaiveDateTime) -> Model {
    let mut counters = Counters::for_rows(rows);
    for r in rows {
        counters.add(r);
    }
    let weights = fit(|each| training_pairs(rows, &counters, each), LAMBDA);
    let mut by_kind: HashMap<&str, (f64, f64)> = HashMap::new();
    for r in rows {
        let e = by_kind.entry(r.plan.kind.as_str()).or_default();
        e.0 += r.invited.len() as f64;
        e.1 += r.signed.len() as f64;
    }
    let (all_inv, all_sig) = by_kind
        .values()
        .fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1));
    let overall_rate = if all_inv > 0.0 {
        all_sig / all_inv
    } else {
        0.2
    };
    let kind_rates = by_kind
        .into_iter()
        .filter(|(_, (inv, _))| *inv > 0.0)
        .map(|(k, (inv, sig))| (k.to_string(), sig / inv))
        .collect();
    Model {
        weights,
        width: Z80,
        kind_rates,
        overall_rate,
        counters,
        trained_on: rows.len(),
        trained_at: now,
        accuracy: None,
        past: baselines::Past::of(rows),
    }
}

impl Model {
    pub fn forecast(&self, invited: &[(i32, i32)], plan: &Plan) -> Forecast {
        let (mu, var) = predict_with(&self.weights, &self.counters, invited, plan);
        let (low, high) = bounds(mu, self.width * var.sqrt());
        Forecast {
            audience: invited.len(),
            expected: mu,
            low: low as i64,
            high: high as i64,
            baseline: self.past.predict(
                self.accuracy
                    .as_ref()
                    .map_or(baselines::Simple::KindMedian, |b| b.best),
                plan,
                invited.len(),
            ),
        }
    }
}

/// Train on all but the most recent `held_out` activities, then predict those in time order
/// (each prediction knows the outcomes of the activities before it, as it would in use); the
/// simple figures predict the same activities the same way, and the best of them is the
/// baseline.
pub fn backtest(h: &History, held_out: usize, now: NaiveDateTime) -> Backtest {
    use baselines::Simple;
    let split = h.rows.len().saturating_sub(held_out);
    let (past, recent) = h.rows.split_at(split);
    let mut model = train(past, now);
    let (mut err_m, mut inside) = (0.0, 0usize);
    let mut err_s = vec![0.0; Simple::ALL.len()];
    // kind → (n, model error, each simple figure's error)
    let mut kinds: std::collections::BTreeMap<String, (usize, f64, Vec<f64>)> = Default::default();
    for r in recent {
        let f = model.forecast(&r.invited, &r.plan);
        let y = r.signed.len() as f64;
        err_m += (f.expected - y).abs();
        let k = kinds
            .entry(r.plan.kind.clone())
            .or_insert_with(|| (0, 0.0, vec![0.0; Simple::ALL.len()]));
        k.0 += 1;
        k.1 += (f.expected - y).abs();
        for (i, s) in Simple::ALL.iter().enumerate() {
            let e = (model.past.predict(*s, &r.plan, r.invited.len()) - y).abs();
            err_s[i] += e;
            k.2[i] += e;
        }
        if (f.low as f64) <= y && y <= f.high as f64 {
            inside += 1;
        }
        model.counters.add(r);
        model.past.add(r);
    }
    let n = recent.len().max(1) as f64;
    let best_i = (0..err_s.len())
        .min_by(|a, b| {
            err_s[*a]
                .partial_cmp(&err_s[*b])
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .unwrap_or(0);
    Backtest {
        held_out: recent.len(),
        model_mae: err_m / n,
        baseline_mae: err_s[best_i] / n,
        coverage: inside as f64 / n,
        per_kind: kinds
            .into_iter()
            .map(|(kind, (n, m, s))| (kind, n, m / n as f64, s[best_i] / n as f64))
            .collect(),
        baselines: Simple::ALL
            .iter()
            .zip(&err_s)
            .map(|(s, e)| (*s, e / n))
            .collect(),
        best: Simple::ALL[best_i],
    }
}
