//! The simple figures a cadre would use instead of the model, each from past activities'
//! sign-up counts: the kind's mean and median, the publishing unit's mean and its last five,
//! the mean of all, and the kind's sign-up rate × the audience. The backtest measures every one
//! on the same split as the model; the best of them is the baseline the model must beat, and
//! the figure the form shows when it does not.

// Counts and means over small vectors.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use super::history::PastRow;
use super::Plan;

crate::text_enum! {
    /// A simple predictor of an activity's sign-ups.
    pub enum Simple {
        KindMean = ("kind_mean", "按以往同类活动的平均人数"),
        KindMedian = ("kind_median", "按以往同类活动的中位数"),
        GroupMean = ("group_mean", "按本单位以往活动的平均人数"),
        GroupRecent = ("group_recent", "按本单位最近五次活动的平均人数"),
        GlobalMean = ("global_mean", "按以往全部活动的平均人数"),
        KindRate = ("kind_rate", "按同类活动的平均报名率乘以通知人数"),
    }
}

/// One past activity as the simple figures see it.
#[derive(Debug, Clone)]
struct Outcome {
    kind: String,
    publisher: i32,
    signed: f64,
    audience: f64,
}

/// Past activities' outcomes, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Past(Vec<Outcome>);

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, s) = xs.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    (n > 0).then(|| s / n as f64)
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

impl Past {
    pub fn of(rows: &[PastRow]) -> Past {
        let mut p = Past::default();
        for r in rows {
            p.add(r);
        }
        p
    }

    /// Take one more past activity into account (in time order).
    pub fn add(&mut self, r: &PastRow) {
        self.0.push(Outcome {
            kind: r.plan.kind.clone(),
            publisher: r.plan.publisher,
            signed: r.signed.len() as f64,
            audience: r.invited.len() as f64,
        });
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What `which` predicts for `plan` with `audience` members invited. A kind or unit never
    /// seen falls back to the kind, then to all activities.
    pub fn predict(&self, which: Simple, plan: &Plan, audience: usize) -> f64 {
        let all = || mean(self.0.iter().map(|o| o.signed)).unwrap_or(0.0);
        let kind = || self.0.iter().filter(|o| o.kind == plan.kind);
        let kind_mean = || mean(kind().map(|o| o.signed)).unwrap_or_else(all);
        let group = || self.0.iter().filter(|o| o.publisher == plan.publisher);
        match which {
            Simple::KindMean => kind_mean(),
            Simple::KindMedian => median(kind().map(|o| o.signed).collect()).unwrap_or_else(all),
            Simple::GroupMean => mean(group().map(|o| o.signed)).unwrap_or_else(kind_mean),
            Simple::GroupRecent => {
                let last: Vec<f64> = group().map(|o| o.signed).collect();
                let from = last.len().saturating_sub(5);
                mean(last.get(from..).unwrap_or_default().iter().copied()).unwrap_or_else(kind_mean)
            }
            Simple::GlobalMean => all(),
            Simple::KindRate => {
                let (inv, sig) =
                    kind().fold((0.0, 0.0), |(i, s), o| (i + o.audience, s + o.signed));
                let (ainv, asig) = self
                    .0
                    .iter()
                    .fold((0.0, 0.0), |(i, s), o| (i + o.audience, s + o.signed));
                let rate = if inv > 0.0 {
                    sig / inv
                } else if ainv > 0.0 {
                    asig / ainv
                } else {
                    0.0
                };
                rate * audience as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, publisher: i32, signed: usize, invited: usize) -> PastRow {
        PastRow {
            id: 0,
            unit_id: 0,
            plan: Plan {
                kind: kind.into(),
                publisher,
                starts_at: chrono::NaiveDateTime::default(),
                window_days: 7.0,
                capacity: 100,
            },
            invited: (0..invited as i32)
                .map(|m| (m, publisher))
                .collect::<Vec<_>>()
                .into(),
            signed: (0..signed as i32).collect(),
            attended: 0,
        }
    }

    #[test]
    fn each_simple_figure_is_what_a_person_would_compute() {
        let past = Past::of(&[
            row("文体", 1, 2, 100),
            row("文体", 1, 4, 100),
            row("文体", 2, 30, 100),
            row("培训", 1, 10, 50),
        ]);
        let plan = row("文体", 1, 0, 0).plan;
        let p = |w| past.predict(w, &plan, 200);
        assert_eq!(p(Simple::KindMean), 12.0);
        assert_eq!(p(Simple::KindMedian), 4.0);
        assert_eq!(p(Simple::GroupMean), 16.0 / 3.0);
        assert_eq!(p(Simple::GroupRecent), 16.0 / 3.0);
        assert_eq!(p(Simple::GlobalMean), 11.5);
        assert!((p(Simple::KindRate) - 24.0).abs() < 1e-9);
        let unseen = row("讲座", 9, 0, 0).plan;
        assert_eq!(past.predict(Simple::KindMedian, &unseen, 10), 11.5);
        assert_eq!(past.predict(Simple::GroupRecent, &unseen, 10), 11.5);
    }
}
