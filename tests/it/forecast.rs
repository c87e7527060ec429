//! 智慧决策: the forecast beats the naive baseline on the demo history and its 80% intervals
//! hold about 80% of outcomes; the activity form shows a forecast.

use crate::helpers::*;

#[actix_web::test]
async fn on_the_demo_history_the_model_beats_the_baseline_by_20_percent_with_calibrated_intervals()
{
    // The demo history depends on the calendar (weekdays, months): check several start dates.
    let mut failures = Vec::new();
    for offset_days in [0i64, 3, 40, 101, 180, 250] {
        let app = spawn().await;
        app.state.config.clock.advance(offset_days * 86_400);
        zhijia::demo::seed(&app.state).unwrap();
        let now = app.state.config.clock.now();
        let h = zhijia::forecast::history::History::load(&mut app.conn(), now).unwrap();
        assert!(
            h.rows.len() >= 100,
            "12 months of history: {}",
            h.rows.len()
        );
        let bt = zhijia::forecast::backtest(
            &h,
            zhijia::forecast::handlers::held_out_for(h.rows.len()),
            now,
        );
        eprintln!("offset {offset_days}: {}", bt.line());
        if std::env::var("FORECAST_DEBUG").is_ok() {
            let split = h.rows.len() - zhijia::forecast::handlers::held_out_for(h.rows.len());
            let mut m = zhijia::forecast::train(&h.rows[..split], now);
            for r in &h.rows[split..] {
                let f = m.forecast(&r.invited, &r.plan);
                eprintln!(
                    "  {} pub={} n={} y={} mu={:.1} [{},{}] base={:.1}",
                    r.plan.kind,
                    r.plan.publisher,
                    r.invited.len(),
                    r.signed.len(),
                    f.expected,
                    f.low,
                    f.high,
                    f.baseline
                );
                m.counters.add(r);
            }
        }
        if bt.improvement() < 20.0 || !(0.70..=0.90).contains(&bt.coverage) {
            failures.push(format!("offset {offset_days}: {}", bt.line()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
