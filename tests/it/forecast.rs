//! 智慧决策: the forecast beats the naive baseline on the demo history and its 80% intervals
//! hold about 80% of outcomes; the activity form shows a forecast.

use crate::helpers::*;

/// Days the demo history is built around (Beijing 10:00): early January, the Spring Festival
/// 2027 (6 February), a month end, a leap day, summer, and the suite's usual day.
const FORECAST_DAYS: [&str; 6] = [
    "2027-01-04",
    "2027-02-06",
    "2026-08-31",
    "2028-02-29",
    "2026-07-15",
    "2026-05-13",
];

/// Thresholds for every day of `FORECAST_DAYS` and for their mean (the spread they come
/// from is in the test's comment).
const MIN_IMPROVEMENT: f64 = 10.0;
const COVERAGE: (f64, f64) = (0.60, 0.98);
const MIN_MEAN_IMPROVEMENT: f64 = 25.0;
const MEAN_COVERAGE: (f64, f64) = (0.75, 0.90);

/// Backtest line for the demo history built around `day`.
async fn backtest_on(day: &str) -> zhijia::forecast::Backtest {
    let app = spawn().await;
    let at = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(2, 0, 0)
        .unwrap();
    app.state
        .config
        .clock
        .advance((at - test_now()).num_seconds());
    zhijia::demo::seed(&app.state).unwrap();
    let now = app.state.config.clock.now();
    let h = zhijia::forecast::history::History::load(&mut app.conn(), now).unwrap();
    zhijia::forecast::backtest(
        &h,
        zhijia::forecast::service::held_out_for(h.rows.len()),
        now,
    )
}

/// Not part of the suite: measures the spread of the backtest over 60 days (every 13th day
/// from 2026-01-01), to set the thresholds above. Run with
/// `cargo test --test it forecast::spread -- --ignored --nocapture`.
#[actix_web::test]
#[ignore]
async fn spread() {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let mut rows = Vec::new();
    for k in 0..60 {
        let day = (start + chrono::Duration::days(13 * k)).to_string();
        let bt = backtest_on(&day).await;
        eprintln!("{day}: {}", bt.line());
        rows.push((bt.improvement(), bt.coverage));
    }
    let (mut imp, mut cov): (Vec<f64>, Vec<f64>) = rows.into_iter().unzip();
    imp.sort_by(f64::total_cmp);
    cov.sort_by(f64::total_cmp);
    eprintln!(
        "improvement min {:.1} p5 {:.1} median {:.1} max {:.1}",
        imp[0], imp[3], imp[30], imp[59]
    );
    eprintln!(
        "coverage min {:.3} p5 {:.3} median {:.3} p95 {:.3} max {:.3}",
        cov[0], cov[3], cov[30], cov[56], cov[59]
    );
}

#[actix_web::test]
async fn on_the_demo_history_the_model_beats_the_baseline_with_calibrated_intervals() {
    // Thresholds from the measured spread (`spread` below: 60 days from 2026-01-01, every 13th
    // day): improvement min 10.9%, 5th percentile 17.4%, median 43.5%; coverage of the 80%
    // intervals min 65.4%, 5th pct 71.2%, median 84.6%, 95th pct 92.3%, max 98.1%. One day holds
    // out only ~52 activities, so a single day's coverage moves by ±5.5 points by chance alone.
    // Each day must stay inside the measured range (a broken model falls far outside: the
    // per-kind mean itself scores 0%); the mean of the six days must be well calibrated.
    let mut failures = Vec::new();
    let (mut sum_imp, mut sum_cov) = (0.0, 0.0);
    for day in FORECAST_DAYS {
        let bt = backtest_on(day).await;
        eprintln!("{day}: {}", bt.line());
        sum_imp += bt.improvement();
        sum_cov += bt.coverage;
        if bt.improvement() < MIN_IMPROVEMENT || !(COVERAGE.0..=COVERAGE.1).contains(&bt.coverage) {
            failures.push(format!("{day}: {}", bt.line()));
        }
    }
    let n = FORECAST_DAYS.len() as f64;
    let (mean_imp, mean_cov) = (sum_imp / n, sum_cov / n);
    if mean_imp < MIN_MEAN_IMPROVEMENT || !(MEAN_COVERAGE.0..=MEAN_COVERAGE.1).contains(&mean_cov) {
        failures.push(format!(
            "mean of the days: improvement {mean_imp:.1}%, coverage {:.1}%",
            mean_cov * 100.0
        ));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
