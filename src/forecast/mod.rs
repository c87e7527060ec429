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
pub mod stack;
pub mod store;

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

/// A hasher for the counters' integer keys. std's SipHash guards against keys chosen to
/// collide, which member and unit ids are not; this one (FxHash's step) is several times
/// faster on the tens of millions of updates a group-scale training makes.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(u64::from(*b));
        }
    }
    fn write_i32(&mut self, i: i32) {
        self.add(u64::from(i as u32));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

/// Maps and sets keyed by ids.
pub type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;
pub type IdSet = std::collections::HashSet<i32, std::hash::BuildHasherDefault<IdHasher>>;

/// A member's (invited, signed) overall and per kind (index 0..6).
type MemberCounts = ([f64; 2], [[f64; 2]; 6]);

/// (invited, signed) per kind.
type PerKind = [[f64; 2]; 6];

/// What happened lately, kept in time order (unlike the totals, it cannot leave one activity
/// out): recency and frequency of each member's sign-ups and each publisher's recent rate.
#[derive(Debug, Clone, Default)]
pub struct Recent {
    /// member → (decayed invited, decayed signed, invitations since the last sign-up, last sign-up)
    member: IdMap<i32, (f64, f64, f64, Option<NaiveDateTime>)>,
    /// publisher → (decayed invited, decayed signed)
    publisher: IdMap<i32, [f64; 2]>,
}

/// Per invitation, a member's older history counts this much less (about the last ten count).
const MEMBER_DECAY: f64 = 0.9;
/// Per activity, a publisher's older activities count this much less.
const PUBLISHER_DECAY: f64 = 0.8;

impl Recent {
    /// Take one past activity's outcome into account (call in time order).
    pub fn add(&mut self, r: &PastRow) {
        let (mut inv, mut sig) = (0.0, 0.0);
        for (m, _) in r.invited.iter() {
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

/// Add `t` to the entry of company `c` (a short list: an audience spans one or a few).
fn add_to(per_company: &mut Vec<(i32, [f64; 2])>, c: i32, t: [f64; 2]) {
    match per_company.iter_mut().find(|x| x.0 == c) {
        Some(x) => {
            x.1[0] += t[0];
            x.1[1] += t[1];
        }
        None => per_company.push((c, t)),
    }
}

/// Counters of what happened before a point in time.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// The kinds with a weight of their own: the five most common in training (the portal's
    /// list or whatever a history file names); every other kind shares the sixth index.
    kinds: Vec<String>,
    member: IdMap<i32, MemberCounts>,
    /// company → per kind (invited, signed)
    company: IdMap<i32, PerKind>,
    /// publisher company → per kind (invited, signed)
    publisher: IdMap<i32, PerKind>,
    /// series (publisher, kind, weekday, hour) → (invited, signed)
    series: IdMap<(i32, usize, u32, u32), [f64; 2]>,
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
        // One walk of the audience: each member's counts, and the activity's totals per
        // company, with which the shared counters are updated once per company.
        let mut per_company: Vec<(i32, [f64; 2])> = Vec::new();
        for (m, c) in r.invited.iter() {
            let s = if r.signed.contains(m) { sign } else { 0.0 };
            self.add_member(*m, k, sign, s);
            add_to(&mut per_company, *c, [sign, s]);
        }
        self.add_shared(r, k, &per_company);
    }

    fn add_member(&mut self, m: i32, k: usize, invited: f64, signed: f64) {
        let e = self.member.entry(m).or_default();
        e.0[0] += invited;
        e.0[1] += signed;
        e.1[k][0] += invited;
        e.1[k][1] += signed;
    }

    /// The counters every member of the audience shares: per company, the publisher's, the
    /// series', the kind's and all.
    fn add_shared(&mut self, r: &PastRow, k: usize, per_company: &[(i32, [f64; 2])]) {
        let key = self.series_key(&r.plan);
        let (mut inv, mut sig) = (0.0, 0.0);
        for (c, t) in per_company {
            let ce = self.company.entry(*c).or_default();
            ce[k][0] += t[0];
            ce[k][1] += t[1];
            inv += t[0];
            sig += t[1];
        }
        let pe = self.publisher.entry(r.plan.publisher).or_default();
        pe[k][0] += inv;
        pe[k][1] += sig;
        let series = self.series.entry(key).or_default();
        series[0] += inv;
        series[1] += sig;
        self.kind[k][0] += inv;
        self.kind[k][1] += sig;
        self.all[0] += inv;
        self.all[1] += sig;
    }

    /// The activity's (invited, signed) per company, times `sign`.
    fn per_company(r: &PastRow, sign: f64) -> Vec<(i32, [f64; 2])> {
        let mut out: Vec<(i32, [f64; 2])> = Vec::new();
        for (m, c) in r.invited.iter() {
            let s = if r.signed.contains(m) { sign } else { 0.0 };
            add_to(&mut out, *c, [sign, s]);
        }
        out
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
    pub counters: Counters,
    pub trained_on: usize,
    pub trained_at: NaiveDateTime,
    /// From the last backtest: (model MAE, baseline MAE, coverage).
    pub accuracy: Option<Backtest>,
    /// The past activities' counts, for the simple figures.
    pub past: baselines::Past,
    /// The count-level model over the member-level sum and the simple figures (`stack`);
    /// `None` on a history too short to fit it, where the sum stands alone.
    pub stack: Option<stack::Stack>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
    /// The expected count (a mean: what ranks other start times).
    pub expected: f64,
    /// The point forecast: the median of the predicted counts (what minimises the absolute
    /// error; below the mean where counts have a long right tail).
    pub median: f64,
    pub low: i64,
    pub high: i64,
    pub baseline: f64,
}

impl Forecast {
    /// The rate of the point forecast the form shows beside it (the median, not the mean).
    pub fn rate(&self) -> f64 {
        if self.audience == 0 {
            0.0
        } else {
            self.median / self.audience as f64
        }
    }
}

/// z for a two-sided 80% interval (the width before calibration).
const Z80: f64 = 1.2816;

/// L2 penalty: strong enough that kind × time-slot cells seen a few times do not overfit.
const LAMBDA: f64 = 50.0;

/// Train on the given past activities (oldest first). The member-level model is trained on
/// all of them; the count-level model (`stack`) on sequential predictions of the newer half
/// (at most the newest 500) by a member-level model trained on the rest, each knowing only
/// the activities before it, as in use. Without enough activities for that, the 80 % interval is the binomial sd times a
/// width calibrated on the final weights' sequential predictions of the newer half.
pub fn train(rows: &[PastRow], now: NaiveDateTime) -> Model {
    // At group scale the count model's activities are the newest few hundred: each sequential
    // prediction walks its whole audience.
    let cut = (rows.len() / 2).max(rows.len().saturating_sub(MAX_STACK_ACTIVITIES));
    // (cut ≤ len: both halves exist, the newer possibly empty.)
    let (older, newer) = rows.split_at(cut.min(rows.len()));
    let stack = if newer.len() >= stack::MIN_SAMPLES && older.len() >= 20 {
        let early = train_core(older, now);
        let (mut counters, mut past) = (early.counters, early.past);
        let mut samples = Vec::with_capacity(newer.len());
        for r in newer {
            let (sum, _) = predict_with(&early.weights, &counters, &r.invited, &r.plan);
            let x = stack::inputs(sum, &past, &r.plan, r.invited.len());
            samples.push((x, r.signed.len() as f64));
            counters.add(r);
            past.add(r);
        }
        stack::Stack::fit(&samples)
    } else {
        None
    };
    let mut model = train_core(rows, now);
    if stack.is_some() {
        model.stack = stack;
        return model;
    }
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

/// The most activities the count model is fitted to.
const MAX_STACK_ACTIVITIES: usize = 500;

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

/// The training pairs, kept sparse (most features are indicators that are zero), with their
/// outcome and weight (the inverse of the share of their kind of pair that was kept).
#[derive(Default)]
struct Pairs {
    start: Vec<u32>,
    idx: Vec<u8>,
    val: Vec<f32>,
    y: Vec<f32>,
    w: Vec<f32>,
}

impl Pairs {
    fn push(&mut self, x: &[f64; N_FEATURES], y: f64, w: f64) {
        self.start.push(self.idx.len() as u32);
        for (i, v) in x.iter().enumerate() {
            if *v != 0.0 {
                self.idx.push(i as u8);
                self.val.push(*v as f32);
            }
        }
        self.y.push(y as f32);
        self.w.push(w as f32);
    }
    fn len(&self) -> usize {
        self.y.len()
    }
    /// Pair `k`'s nonzero features.
    fn get(&self, k: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let from = self.start[k] as usize;
        let to = self
            .start
            .get(k + 1)
            .map_or(self.idx.len(), |e| *e as usize);
        (from..to).map(|i| (self.idx[i] as usize, f64::from(self.val[i])))
    }
}

/// Newton–Raphson (IRLS) for weighted L2-regularised logistic regression.
fn fit(pairs: &Pairs, lambda: f64) -> Vec<f64> {
    let d = N_FEATURES;
    let mut w = vec![0.0; d];
    let mut nz: Vec<(usize, f64)> = Vec::with_capacity(d);
    for _ in 0..8 {
        let mut grad = vec![0.0; d];
        let mut hess = vec![0.0; d * d];
        for k in 0..pairs.len() {
            nz.clear();
            nz.extend(pairs.get(k));
            let z: f64 = nz.iter().map(|(i, v)| w[*i] * v).sum();
            let p = sigmoid(z);
            let weight = f64::from(pairs.w[k]);
            let r = (p - f64::from(pairs.y[k])) * weight;
            let s = p * (1.0 - p) * weight;
            for (a, (i, xi)) in nz.iter().enumerate() {
                grad[*i] += r * xi;
                for (j, xj) in &nz[a..] {
                    // Indices ascend within a pair: (i, j) with i <= j is the upper triangle.
                    hess[i * d + j] += s * xi * xj;
                }
            }
        }
        if pairs.len() == 0 {
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

/// At most this many silent (and signed-up) pairs are kept for fitting; beyond it a random
/// share is kept and weighted up, so time and memory stay bounded at group scale.
const MAX_NEGATIVES: f64 = 300_000.0;
const MAX_POSITIVES: f64 = 150_000.0;

/// A fixed pseudo-random number in [0, 1) for a (member, activity) pair (the sample is the same
/// on every run and instance).
fn pair_unit(m: i32, a: usize) -> f64 {
    let mut z = (u64::from(m as u32) << 32 | a as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The training pairs in one replay: the totals leave the activity itself out (so rates carry
/// information from the first activity on without seeing its own outcome); what happened
/// lately is taken in time order. Pairs beyond the caps are sampled and weighted.
fn training_pairs(rows: &[PastRow], all: &Counters) -> Pairs {
    let positives: usize = rows.iter().map(|r| r.signed.len()).sum();
    let total: usize = rows.iter().map(|r| r.invited.len()).sum();
    let keep_pos = (MAX_POSITIVES / positives.max(1) as f64).min(1.0);
    let keep_neg = (MAX_NEGATIVES / total.saturating_sub(positives).max(1) as f64).min(1.0);
    let mut counters = all.clone();
    counters.recent = Recent::default();
    let mut pairs = Pairs::default();
    for (a, r) in rows.iter().enumerate() {
        // Leave the activity out: its share of the shared counters for everyone, and each
        // kept member's own outcome for that member (the rest of the audience's member counts
        // do not enter this member's features), so the pass costs one walk of the audience.
        let k = counters.kind_index(&r.plan.kind);
        let shared = Counters::per_company(r, 1.0);
        let minus: Vec<(i32, [f64; 2])> =
            shared.iter().map(|(c, t)| (*c, [-t[0], -t[1]])).collect();
        counters.add_shared(r, k, &minus);
        for (m, c) in r.invited.iter() {
            let signed = r.signed.contains(m);
            let keep = if signed { keep_pos } else { keep_neg };
            if keep < 1.0 && pair_unit(*m, a) >= keep {
                continue;
            }
            let own = if signed { 1.0 } else { 0.0 };
            counters.add_member(*m, k, -1.0, -own);
            let x = counters.features(*m, *c, &r.plan, &counters.recent);
            counters.add_member(*m, k, 1.0, own);
            pairs.push(&x, own, 1.0 / keep);
        }
        counters.add_shared(r, k, &shared);
        counters.recent.add(r);
    }
    pairs
}

/// Train on the given past activities (oldest first); the counters end up holding all of them.
fn train_core(rows: &[PastRow], now: NaiveDateTime) -> Model {
    let mut counters = Counters::for_rows(rows);
    for r in rows {
        counters.add(r);
    }
    let weights = fit(&training_pairs(rows, &counters), LAMBDA);
    Model {
        weights,
        width: Z80,
        counters,
        trained_on: rows.len(),
        trained_at: now,
        accuracy: None,
        past: baselines::Past::of(rows),
        stack: None,
    }
}

impl Model {
    /// What is stored for every instance (no member counters: they name people).
    pub fn stored(&self) -> store::Stored {
        store::Stored {
            weights: self.weights.clone(),
            width: self.width,
            kinds: self.counters.kinds.clone(),
            stack: self.stack.clone(),
            accuracy: self.accuracy.clone(),
            trained_on: self.trained_on,
            trained_at: self.trained_at,
        }
    }

    /// A stored model made usable on this instance: its counters rebuilt from the history
    /// (activities newer than the training count too, as they would in use).
    pub fn from_stored(s: store::Stored, rows: &[PastRow]) -> Model {
        let mut counters = Counters {
            kinds: s.kinds,
            ..Counters::default()
        };
        for r in rows {
            counters.add(r);
        }
        Model {
            weights: s.weights,
            width: s.width,
            counters,
            trained_on: s.trained_on,
            trained_at: s.trained_at,
            accuracy: s.accuracy,
            past: baselines::Past::of(rows),
            stack: s.stack,
        }
    }

    pub fn forecast(&self, invited: &[(i32, i32)], plan: &Plan) -> Forecast {
        let (sum, var) = predict_with(&self.weights, &self.counters, invited, plan);
        let (expected, median, low, high) = match &self.stack {
            Some(st) => {
                let c = st.predict(&stack::inputs(sum, &self.past, plan, invited.len()));
                (c.mean, c.median, c.low, c.high)
            }
            None => {
                let (low, high) = bounds(sum, self.width * var.sqrt());
                (sum, sum, low, high)
            }
        };
        // Nobody outside the audience signs up: the count model's figures (which rest on the
        // kind's and group's past counts too) must not exceed it, and an audience with no
        // active member forecasts none.
        let cap = invited.len() as f64;
        let (expected, median) = (expected.min(cap), median.min(cap));
        let (low, high) = (low.min(cap), high.min(cap));
        Forecast {
            audience: invited.len(),
            expected,
            median,
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
    backtest_model(h, held_out, now).0
}

/// `backtest`, and the model it measured with its counters brought up to the whole history:
/// the model the job stores (weights from the older activities, what every member did since in
/// its counters), so the job trains once, not twice.
pub fn backtest_model(h: &History, held_out: usize, now: NaiveDateTime) -> (Backtest, Model) {
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
        err_m += (f.median - y).abs();
        let k = kinds
            .entry(r.plan.kind.clone())
            .or_insert_with(|| (0, 0.0, vec![0.0; Simple::ALL.len()]));
        k.0 += 1;
        k.1 += (f.median - y).abs();
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
    let bt = Backtest {
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
    };
    model.accuracy = Some(bt.clone());
    (bt, model)
}
