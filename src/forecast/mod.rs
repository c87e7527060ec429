//! 智慧决策 forecast: how many members will sign up for a planned activity.
//!
//! Model: an L2-regularised logistic regression over (member × activity) pairs, trained in
//! process on the activity history. Features, all computed only from what was known before
//! each activity: the member's past sign-up rate overall and for this kind (smoothed towards
//! the wider rates), their company's rate for this kind, the weekday/time slot by kind, the
//! month, the length of the sign-up window and how recently the member last signed up. The
//! expected count is the sum of the members' probabilities; the 80% interval is a normal
//! approximation whose variance is widened by the over-dispersion measured on the training
//! activities. The baseline to beat: the mean sign-up rate of that kind × audience size.

// A numeric model over fixed-size feature arrays indexed by constants and bounded kind/slot indices.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

pub mod history;
pub mod history_file;
pub mod service;

use std::collections::HashMap;

use chrono::{Datelike, NaiveDateTime, Timelike};

use history::{History, PastRow};

/// Index of an activity kind (the activity editor's list; 其他 and unknown kinds share the last).
fn kind_index(kind: &str) -> usize {
    crate::activities::model::KINDS
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(5)
        .min(5)
}

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

/// A member's (invited, signed) overall, per kind (index 0..6), and their last sign-up.
type MemberCounts = ([f64; 2], [[f64; 2]; 6], Option<NaiveDateTime>);

/// Counters of what happened before a point in time.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    member: HashMap<i32, MemberCounts>,
    /// company → per kind (invited, signed)
    company: HashMap<i32, [[f64; 2]; 6]>,
    /// publisher company → per kind (invited, signed)
    publisher: HashMap<i32, [[f64; 2]; 6]>,
    kind: [[f64; 2]; 6],
    all: [f64; 2],
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(0.005, 0.995);
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

pub const N_FEATURES: usize = 1 + 5 + 6 + 3 + 18 + 2 + 1;

impl Counters {
    fn global_rate(&self) -> f64 {
        (self.all[1] + 1.0) / (self.all[0] + 5.0)
    }
    fn kind_rate(&self, k: usize) -> f64 {
        let g = self.global_rate();
        (self.kind[k][1] + 10.0 * g) / (self.kind[k][0] + 10.0)
    }

    /// The feature vector of member `m` (of company `c`) for a planned activity; `last` is when
    /// the member last signed up for anything before it.
    pub fn features(
        &self,
        m: i32,
        c: i32,
        plan: &Plan,
        last: Option<NaiveDateTime>,
    ) -> [f64; N_FEATURES] {
        let k = kind_index(&plan.kind);
        let g = self.global_rate();
        let kr = self.kind_rate(k);
        let (overall, per_kind, _) = self.member.get(&m).cloned().unwrap_or_default();
        let m_rate = (overall[1] + 3.0 * g) / (overall[0] + 3.0);
        let m_kind = (per_kind[k][1] + 3.0 * m_rate * kr / g.max(1e-6)) / (per_kind[k][0] + 3.0);
        let comp = self.company.get(&c).map(|x| x[k]).unwrap_or_default();
        let c_kind = (comp[1] + 20.0 * kr) / (comp[0] + 20.0);
        let publ = self
            .publisher
            .get(&plan.publisher)
            .map(|x| x[k])
            .unwrap_or_default();
        let p_kind = (publ[1] + 50.0 * kr) / (publ[0] + 50.0);
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
        x
    }

    /// The last sign-up of a member known to these counters.
    pub fn last_signup(&self, m: i32) -> Option<NaiveDateTime> {
        self.member.get(&m).and_then(|e| e.2)
    }

    /// Add (`sign` = 1) or take back (`sign` = -1) the outcome of one past activity.
    pub fn add_signed(&mut self, r: &PastRow, sign: f64) {
        let k = kind_index(&r.plan.kind);
        for (m, c) in &r.invited {
            let s = if r.signed.contains(m) { sign } else { 0.0 };
            let e = self.member.entry(*m).or_default();
            e.0[0] += sign;
            e.0[1] += s;
            e.1[k][0] += sign;
            e.1[k][1] += s;
            if s > 0.0 && e.2.is_none_or(|t| t < r.plan.starts_at) {
                e.2 = Some(r.plan.starts_at);
            }
            let ce = self.company.entry(*c).or_default();
            ce[k][0] += sign;
            ce[k][1] += s;
            let pe = self.publisher.entry(r.plan.publisher).or_default();
            pe[k][0] += sign;
            pe[k][1] += s;
            self.kind[k][0] += sign;
            self.kind[k][1] += s;
            self.all[0] += sign;
            self.all[1] += s;
        }
    }

    pub fn add(&mut self, r: &PastRow) {
        self.add_signed(r, 1.0);
    }
}

/// A trained model.
#[derive(Debug, Clone)]
pub struct Model {
    pub weights: Vec<f64>,
    /// Observed variance of counts ÷ the binomial variance, on the training activities.
    pub dispersion: f64,
    /// Mean sign-up rate per kind (the baseline).
    pub kind_rates: [f64; 6],
    pub counters: Counters,
    pub trained_on: usize,
    pub trained_at: NaiveDateTime,
    /// From the last backtest: (model MAE, baseline MAE, coverage).
    pub accuracy: Option<Backtest>,
}

#[derive(Debug, Clone)]
pub struct Backtest {
    pub held_out: usize,
    pub model_mae: f64,
    pub baseline_mae: f64,
    pub coverage: f64,
    /// Per activity kind: (kind, held-out activities, model MAE, baseline MAE), by kind name.
    pub per_kind: Vec<(String, usize, f64, f64)>,
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

/// L2 penalty: strong enough that kind × time-slot cells seen a few times do not overfit.
const LAMBDA: f64 = 50.0;

/// Train on the given past activities (oldest first). The 80% interval's half-width is the
/// 80th percentile of |error| ÷ binomial sd over the training activities (activity-level
/// over-dispersion the member-level model does not see); `backtest` shows how it holds on
/// activities the model has not seen.
pub fn train(rows: &[PastRow], now: NaiveDateTime) -> Model {
    let mut model = train_core(rows, now);
    let mut z: Vec<f64> = rows
        .iter()
        .map(|r| {
            let (mu, var) = predict_with(&model.weights, &model.counters, &r.invited, &r.plan);
            (r.signed.len() as f64 - mu).abs() / var.max(1e-9).sqrt()
        })
        .collect();
    if z.len() >= 10 {
        model.dispersion = (q80(&mut z) / Z80).powi(2).max(1.0);
    }
    model
}

fn q80(z: &mut [f64]) -> f64 {
    z.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    z[((z.len() as f64 * 0.8).ceil() as usize).clamp(1, z.len()) - 1]
}

/// Newton–Raphson (IRLS) for L2-regularised logistic regression.
fn fit(xs: &[[f64; N_FEATURES]], ys: &[f64], lambda: f64) -> Vec<f64> {
    let d = N_FEATURES;
    let mut w = vec![0.0; d];
    for _ in 0..8 {
        let mut grad = vec![0.0; d];
        let mut hess = vec![0.0; d * d];
        for (x, y) in xs.iter().zip(ys) {
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
        let x = counters.features(*m, *c, plan, counters.last_signup(*m));
        let p = sigmoid(x.iter().zip(w).map(|(a, b)| a * b).sum());
        mu += p;
        var += p * (1.0 - p);
    }
    (mu, var)
}

/// z for a two-sided 80% interval.
const Z80: f64 = 1.2816;

/// Train on the given past activities (oldest first); the counters end up holding all of them.
/// Rates in the training features leave the activity itself out (so they carry information
/// from the first activity on without seeing its own outcome); recency is taken in time order.
fn train_core(rows: &[PastRow], now: NaiveDateTime) -> Model {
    let mut counters = Counters::default();
    for r in rows {
        counters.add(r);
    }
    let mut last: HashMap<i32, NaiveDateTime> = HashMap::new();
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for r in rows {
        counters.add_signed(r, -1.0);
        for (m, c) in &r.invited {
            xs.push(counters.features(*m, *c, &r.plan, last.get(m).copied()));
            ys.push(if r.signed.contains(m) { 1.0 } else { 0.0 });
        }
        counters.add_signed(r, 1.0);
        for m in &r.signed {
            last.insert(*m, r.plan.starts_at);
        }
    }
    let weights = if xs.is_empty() {
        vec![0.0; N_FEATURES]
    } else {
        fit(&xs, &ys, LAMBDA)
    };
    // Over-dispersion: activity-level noise the member-level model does not see.
    let dispersion = 1.0;
    let mut kind_rates = [0.0; 6];
    for (k, rate) in kind_rates.iter_mut().enumerate() {
        let (inv, sig) = rows
            .iter()
            .filter(|r| kind_index(&r.plan.kind) == k)
            .fold((0.0, 0.0), |(i, s), r| {
                (i + r.invited.len() as f64, s + r.signed.len() as f64)
            });
        let all_inv: f64 = rows.iter().map(|r| r.invited.len() as f64).sum();
        let all_sig: f64 = rows.iter().map(|r| r.signed.len() as f64).sum();
        *rate = if inv > 0.0 {
            sig / inv
        } else if all_inv > 0.0 {
            all_sig / all_inv
        } else {
            0.2
        };
    }
    Model {
        weights,
        dispersion,
        kind_rates,
        counters,
        trained_on: rows.len(),
        trained_at: now,
        accuracy: None,
    }
}

impl Model {
    pub fn forecast(&self, invited: &[(i32, i32)], plan: &Plan) -> Forecast {
        let (mu, var) = predict_with(&self.weights, &self.counters, invited, plan);
        let half = Z80 * (self.dispersion * var).sqrt();
        Forecast {
            audience: invited.len(),
            expected: mu,
            low: (mu - half).floor().max(0.0) as i64,
            high: (mu + half).ceil() as i64,
            baseline: self.kind_rates[kind_index(&plan.kind)] * invited.len() as f64,
        }
    }
}

/// Train on all but the most recent `held_out` activities, then predict those in time order
/// (each prediction knows the outcomes of the activities before it, as it would in use).
pub fn backtest(h: &History, held_out: usize, now: NaiveDateTime) -> Backtest {
    let split = h.rows.len().saturating_sub(held_out);
    let (past, recent) = h.rows.split_at(split);
    let mut model = train(past, now);
    let (mut err_m, mut err_b, mut inside) = (0.0, 0.0, 0usize);
    let mut kinds: std::collections::BTreeMap<String, (usize, f64, f64)> = Default::default();
    for r in recent {
        let f = model.forecast(&r.invited, &r.plan);
        let y = r.signed.len() as f64;
        err_m += (f.expected - y).abs();
        err_b += (f.baseline - y).abs();
        let k = kinds.entry(r.plan.kind.clone()).or_default();
        k.0 += 1;
        k.1 += (f.expected - y).abs();
        k.2 += (f.baseline - y).abs();
        if (f.low as f64) <= y && y <= f.high as f64 {
            inside += 1;
        }
        model.counters.add(r);
    }
    let n = recent.len().max(1) as f64;
    Backtest {
        held_out: recent.len(),
        model_mae: err_m / n,
        baseline_mae: err_b / n,
        coverage: inside as f64 / n,
        per_kind: kinds
            .into_iter()
            .map(|(kind, (n, m, b))| (kind, n, m / n as f64, b / n as f64))
            .collect(),
    }
}
