//! The count-level model on top of the member-level one. An activity's sign-ups are predicted
//! from the member-level sum *and* the simple figures a cadre would use (the kind's median and
//! mean, the group's mean and its last five, the mean of all, the audience size), by a Poisson
//! regression on the log scale fitted to sequential predictions of the newer training
//! activities. Its counts are taken as negative binomial (the variance grows faster than the
//! mean: one event draws a crowd, the next nobody), with the dispersion calibrated so that 80 %
//! intervals hold 80 % of those activities. The point forecast is the distribution's median:
//! what minimises the absolute error the form and the backtest are judged by.

// A numeric model over a fixed-size input array.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use serde::{Deserialize, Serialize};

use super::baselines::{Past, Simple};
use super::Plan;

/// Inputs: 1, ln(1 + member-level sum), ln(1 + each simple count figure), ln(1 + audience).
pub const INPUTS: usize = 8;

/// The simple figures used as inputs (the rate × audience figure is the sum's weaker twin).
const FIGURES: [Simple; 5] = [
    Simple::KindMedian,
    Simple::KindMean,
    Simple::GroupMean,
    Simple::GroupRecent,
    Simple::GlobalMean,
];

/// The fewest sequential predictions a count model is fitted to; below it the member-level sum
/// stands alone.
pub const MIN_SAMPLES: usize = 30;

/// The share of the fitting activities the interval must hold: above 80 % because the
/// regression has seen them (held-out activities lie further away).
const COVERAGE_TARGET: f64 = 0.84;

/// Ridge penalty towards the sum alone (also keeps correlated figures' weights small).
const LAMBDA: f64 = 10.0;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stack {
    pub w: Vec<f64>,
    /// Negative binomial dispersion: variance = mean + alpha · mean².
    pub alpha: f64,
}

/// One activity's inputs.
pub fn inputs(sum: f64, past: &Past, plan: &Plan, audience: usize) -> [f64; INPUTS] {
    let mut x = [0.0; INPUTS];
    x[0] = 1.0;
    x[1] = (1.0 + sum.max(0.0)).ln();
    for (i, f) in FIGURES.iter().enumerate() {
        x[2 + i] = (1.0 + past.predict(*f, plan, audience).max(0.0)).ln();
    }
    x[7] = (1.0 + audience as f64).ln();
    x
}

/// A count forecast: mean, median (the point forecast) and the 80 % interval.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub mean: f64,
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

impl Stack {
    /// Fit to (inputs, actual count) pairs; `None` when there are too few of them.
    pub fn fit(samples: &[([f64; INPUTS], f64)]) -> Option<Stack> {
        if samples.len() < MIN_SAMPLES {
            return None;
        }
        let w = poisson_fit(samples)?;
        let mut s = Stack { w, alpha: 0.0 };
        s.alpha = s.calibrate(samples);
        Some(s)
    }

    pub fn mean(&self, x: &[f64; INPUTS]) -> f64 {
        let z: f64 = x.iter().zip(&self.w).map(|(a, b)| a * b).sum();
        z.clamp(-20.0, 20.0).exp()
    }

    pub fn predict(&self, x: &[f64; INPUTS]) -> Counts {
        let mean = self.mean(x);
        Counts {
            mean,
            median: nb_quantile(mean, self.alpha, 0.5),
            low: nb_quantile(mean, self.alpha, 0.1),
            high: nb_quantile(mean, self.alpha, 0.9),
        }
    }

    /// The smallest dispersion whose 80 % intervals hold the target share of `samples`.
    fn calibrate(&self, samples: &[([f64; INPUTS], f64)]) -> f64 {
        let means: Vec<(f64, f64)> = samples.iter().map(|(x, y)| (self.mean(x), *y)).collect();
        let holds = |alpha: f64| {
            means
                .iter()
                .filter(|(mu, y)| {
                    nb_quantile(*mu, alpha, 0.1) <= *y && *y <= nb_quantile(*mu, alpha, 0.9)
                })
                .count() as f64
                / means.len() as f64
        };
        let mut alpha = 0.0;
        while alpha < 5.0 && holds(alpha) < COVERAGE_TARGET {
            alpha = if alpha == 0.0 { 0.01 } else { alpha * 1.15 };
        }
        alpha
    }
}

/// Poisson regression with a log link (Newton's method, ridge on all but the intercept).
fn poisson_fit(samples: &[([f64; INPUTS], f64)]) -> Option<Vec<f64>> {
    let d = INPUTS;
    let n = samples.len() as f64;
    let ybar = samples.iter().map(|s| s.1).sum::<f64>() / n;
    // Shrunk towards "the member-level sum alone" (weight 1 on it, 0 on the rest): with few
    // activities to fit, the count model departs from the sum only as far as they show.
    let mut prior = vec![0.0; d];
    prior[1] = 1.0;
    let mut w = prior.clone();
    let sbar = samples.iter().map(|s| s.0[1]).sum::<f64>() / n;
    w[0] = (ybar + 0.1).ln() - sbar;
    for _ in 0..50 {
        let mut grad = vec![0.0; d];
        let mut hess = vec![0.0; d * d];
        for (x, y) in samples {
            let z: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
            let mu = z.clamp(-20.0, 20.0).exp();
            for i in 0..d {
                grad[i] += (mu - y) * x[i];
                for j in 0..d {
                    hess[i * d + j] += mu * x[i] * x[j];
                }
            }
        }
        for i in 1..d {
            grad[i] += LAMBDA * (w[i] - prior[i]);
            hess[i * d + i] += LAMBDA;
        }
        hess[0] += 1e-6;
        let step = super::solve(&mut hess, &grad, d)?;
        // Damped: a full Newton step on a log link can overshoot from a poor start.
        let size: f64 = step.iter().map(|s| s.abs()).fold(0.0, f64::max);
        let damp = if size > 1.0 { 1.0 / size } else { 1.0 };
        for i in 0..d {
            w[i] -= damp * step[i];
        }
        if size < 1e-7 {
            break;
        }
    }
    w.iter().all(|v| v.is_finite()).then_some(w)
}

/// The `q` quantile of a negative binomial with mean `mu` and dispersion `alpha` (Poisson at
/// 0): the smallest count whose cumulative probability reaches `q`. Large means use the normal
/// approximation with the same variance.
pub fn nb_quantile(mu: f64, alpha: f64, q: f64) -> f64 {
    let mu = mu.max(0.0);
    if mu == 0.0 {
        return 0.0;
    }
    let var = mu + alpha * mu * mu;
    if mu > 400.0 {
        let z = normal_quantile(q);
        return (mu + z * var.sqrt()).round().max(0.0);
    }
    // ln P(0) and the ratio P(k+1)/P(k).
    let (ln_p0, ratio): (f64, Box<dyn Fn(f64) -> f64>) = if alpha < 1e-9 {
        (-mu, Box::new(move |k: f64| mu / (k + 1.0)))
    } else {
        let r = 1.0 / alpha;
        let p = r / (r + mu);
        (
            r * p.ln(),
            Box::new(move |k: f64| (k + r) / (k + 1.0) * (1.0 - p)),
        )
    };
    let mut pk = ln_p0.exp();
    let mut cdf = pk;
    let mut k = 0.0;
    let limit = mu + 40.0 * var.sqrt() + 50.0;
    while cdf < q && k < limit {
        pk *= ratio(k);
        k += 1.0;
        cdf += pk;
    }
    k
}

/// The standard normal quantile (Acklam's rational approximation; ample for interval ends).
fn normal_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    let a = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    let b = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    let c = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    let d = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        let q = (-2.0 * q.ln()).sqrt();
        (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail(p)
    } else if p > 1.0 - 0.02425 {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_known_values() {
        // Poisson(3): P(≤1) = 0.199, P(≤2) = 0.423, P(≤3) = 0.647, P(≤5) = 0.916.
        assert_eq!(nb_quantile(3.0, 0.0, 0.1), 1.0);
        assert_eq!(nb_quantile(3.0, 0.0, 0.5), 3.0);
        assert_eq!(nb_quantile(3.0, 0.0, 0.9), 5.0);
        // Geometric with mean 4 (alpha 1): P(0) = 0.2, so the 10 % quantile is 0; its median
        // is 3 (P(≤2) = 0.488, P(≤3) = 0.590): below the mean, as with any long right tail.
        assert_eq!(nb_quantile(4.0, 1.0, 0.1), 0.0);
        assert_eq!(nb_quantile(4.0, 1.0, 0.5), 3.0);
        assert!((normal_quantile(0.9) - 1.2816).abs() < 1e-3);
        assert!((normal_quantile(0.1) + 1.2816).abs() < 1e-3);
        assert_eq!(nb_quantile(1000.0, 0.0, 0.5), 1000.0);
    }

    #[test]
    fn the_fit_recovers_a_known_relation_and_widens_for_overdispersed_counts() {
        let mut rng = 12345u64;
        let mut unit = || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let samples: Vec<([f64; INPUTS], f64)> = (0..400)
            .map(|_| {
                let s = 1.0 + unit() * 20.0;
                let mut x = [0.0; INPUTS];
                x[0] = 1.0;
                x[1] = (1.0 + s).ln();
                // A count spread well beyond a Poisson's: the mean times a gamma-ish factor.
                let factor = -unit().max(1e-9).ln();
                let y = (s * factor).round();
                (x, y)
            })
            .collect();
        let fit = Stack::fit(&samples).unwrap();
        assert!(fit.w[1] > 0.7 && fit.w[1] < 1.3, "{:?}", fit.w);
        assert!(fit.alpha > 0.3, "over-dispersion found: {}", fit.alpha);
    }
}
