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
    // day; session 8's model): improvement min 11.7%, 5th percentile 16.7%, median 44.7%;
    // coverage of the 80% intervals min 65.4%, 5th pct 69.2%, median 84.6%, 95th pct 92.3%,
    // max 94.2%. One day holds out only ~52 activities, so a single day's coverage moves by
    // ±5.5 points by chance alone.
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

/// `zhijia forecast-backtest --history FILE.csv`: a history of 60 events in three groups read
/// from a file, the most recent fifth held out, per-kind figures above the usual last line;
/// a file with a bad date is refused with its line number.
#[test]
fn the_backtest_reads_a_history_file_and_refuses_a_bad_row_by_line() {
    let dir = tempfile_dir::TempDir::new();
    let mut text =
        String::from("member_id,event_id,group_id,event_kind,starts_at,announced_at,signed_up\n");
    for e in 0..60 {
        let group = e % 3;
        let kind = ["文体活动", "讲座培训"][e % 2];
        let day = chrono::NaiveDate::from_ymd_opt(2015, 1, 1).unwrap()
            + chrono::Duration::days(e as i64 * 5);
        let announced = if e % 4 == 0 {
            String::new()
        } else {
            format!("{day}T09:00:00+08:00")
        };
        for m in 0..20 {
            // Member m of a group comes to about one event in (m % 5 + 1).
            let signed = (e / 3 + m) % (m % 5 + 1) == 0;
            text.push_str(&format!(
                "g{group}-m{m},ev{e},g{group},{kind},{day}T19:00:00+08:00,{announced},{}\n",
                u8::from(signed)
            ));
        }
    }
    let good = dir.0.join("history.csv");
    std::fs::write(&good, &text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhijia"))
        .args(["forecast-backtest", "--history"])
        .arg(&good)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("history: 60 past activities, 1200 member × activity pairs"),
        "{stdout}"
    );
    assert!(
        stdout.contains("文体活动: 6 held out") && stdout.contains("讲座培训: 6 held out"),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap();
    assert!(
        last.starts_with("model MAE ") && last.contains("coverage"),
        "{last}"
    );

    let bad = dir.0.join("bad.csv");
    std::fs::write(
        &bad,
        text.replacen("2015-01-06T19:00:00+08:00", "2015-01-06 7pm", 1),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhijia"))
        .args(["forecast-backtest", "--history"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("第 22 行") && stderr.contains("starts_at"),
        "{stderr}"
    );
}

/// No request trains (issue 32). On an instance without a stored model the activity form
/// answers at once with the best simple figure, says the model is being prepared and stores
/// nothing; the job's round, run by three instances on the same tick, trains once; the form
/// then uses the stored model. A cadre's "retrain" only asks: the request stores nothing, the
/// next tick trains (one instance of three), and the tick after, with nothing asked, none does.
#[actix_web::test]
async fn no_request_trains_the_job_trains_once_per_tick_and_the_form_uses_its_model() {
    use zhijia::forecast::service::train_round;
    let mut app = spawn_demo().await;
    let now = app.state.config.clock.now();
    let unit = zhijia::org::model::find_by_name(&mut app.conn(), "第一工程公司工会").unwrap()[0]
        .id
        .to_string();
    let local =
        |m: i64| zhijia::activities::service::to_local(&(now + chrono::Duration::minutes(m)));
    let (starts, ends) = (local(60 * 24 * 9), local(60 * 24 * 9 + 180));
    let form = |action: &'static str| {
        vec![
            ("title", "周末亲子运动会"),
            ("kind", "亲子活动"),
            ("place", "体育馆"),
            ("starts_at", starts.as_str()),
            ("ends_at", ends.as_str()),
            ("capacity", "40"),
            ("audience", unit.as_str()),
            ("action", action),
        ]
    };
    // Three instances' job rounds on the same tick; how many trained.
    macro_rules! round {
        ($app:expr) => {
            ["instance-1", "instance-2", "instance-3"]
                .iter()
                .filter(|h| {
                    $app.with(|c, now| train_round(c, h, now, 60))
                        .unwrap()
                        .is_some()
                })
                .count()
        };
    }
    app.login_ok("demo-chair").await;
    let r = app.post("/admin/activities/new", &form("forecast")).await;
    r.assert_status(200)
        .assert_contains("预测模型正在后台准备")
        .assert_contains("按以往同类活动的中位数估计")
        .assert_contains("最相似的往期活动");
    assert!(
        !r.body.contains("80% 把握") && !r.body.contains("回测最近"),
        "no model shown"
    );
    assert!(
        !r.body.contains(r#"value="retrain""#),
        "nothing to retrain yet"
    );
    assert_eq!(
        app.count("forecast_models"),
        0,
        "the request trained nothing"
    );

    assert_eq!(round!(app), 1, "one instance of three trains on a tick");
    assert_eq!(app.count("forecast_models"), 1);
    assert_eq!(round!(app), 0, "the same tick does not train again");

    let r = app.post("/admin/activities/new", &form("forecast")).await;
    r.assert_status(200).assert_contains("回测最近");
    assert!(!r.body.contains("预测模型正在后台准备"));
    assert!(
        r.body.contains("80% 把握") || r.body.contains("模型回测不比"),
        "the model's forecast or the honest line about it"
    );

    let r = app.post("/admin/activities/new", &form("retrain")).await;
    r.assert_status(200).assert_contains("已请求重新训练模型");
    assert_eq!(
        app.count("forecast_models"),
        1,
        "asking trains nothing in the request"
    );
    app.state.config.clock.advance(61);
    assert_eq!(
        round!(app),
        0,
        "within ten minutes of a training an ask waits"
    );
    app.state.config.clock.advance(10 * 60);
    assert_eq!(round!(app), 1, "then the next tick trains what was asked");
    assert_eq!(app.count("forecast_models"), 2);
    app.state.config.clock.advance(61);
    assert_eq!(round!(app), 0, "nothing asked, a fresh model: no training");
}
