//! A messy event history, generated with its own seed, shaped like real online-group event
//! data (issue 17): large and mostly silent audiences, members who join and leave, a group
//! whose sign-ups come from a few organisers, one group with half the events, weekly series at
//! a fixed weekday and hour, and announce times often unknown. Written as the CSV that
//! `zhijia forecast-backtest --history` reads, so the model is tested on such data without any
//! real data in the repository.

use crate::helpers::Lcg;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Per-group facts: (members, share of events, organiser-driven, pauses). The sizes and rates
/// follow a real online groups' history (issue 32): about 5 sign-ups per event from audiences in
/// the hundreds, one group with half the events, two groups that stop for a while and come back
/// with many of their members gone and new ones in their place.
const GROUPS: [(usize, f64, bool, bool); 8] = [
    (900, 0.50, false, false), // the dominant group
    (300, 0.10, false, false),
    (220, 0.08, true, false), // a few organisers sign up for nearly everything
    (260, 0.07, false, true),
    (200, 0.07, false, false),
    (240, 0.06, false, true),
    (160, 0.06, false, false),
    (140, 0.06, false, false),
];

/// Where the pausing groups stop and restart, as shares of the event sequence.
const PAUSE: (f64, f64) = (0.35, 0.55);

const KINDS: [&str; 4] = ["文体活动", "讲座培训", "志愿服务", "技能竞赛"];

/// The CSV text and the number of events.
pub fn generate(seed: u64, events: usize) -> (String, usize) {
    let (text, n, _) = generate_with_truth(seed, events);
    (text, n)
}

/// A member: a propensity (most nearly silent, a few regulars whose time in the group is
/// short, so the core turns over), the stretch of events they belong for, organisers.
struct Member {
    base: f64,
    joins: usize,
    leaves: usize,
    organiser: bool,
    last: Option<usize>,
}

fn members(rng: &mut Lcg, events: usize) -> Vec<Vec<Member>> {
    let restart = (events as f64 * PAUSE.1) as usize;
    GROUPS
        .iter()
        .map(|(n, _, organised, pauses)| {
            // A pausing group comes back with half as many members again, all new.
            let total = if *pauses { n + n / 2 } else { *n };
            (0..total)
                .map(|i| {
                    let regular = rng.unit() < 0.05;
                    let joins = if i >= *n {
                        restart + rng.below(events / 10)
                    } else if rng.unit() < 0.6 {
                        0
                    } else {
                        rng.below(events)
                    };
                    let stays = if regular {
                        events / 8 + rng.below(events / 4 + 1)
                    } else {
                        events / 4 + rng.below(events + 1)
                    };
                    let mut leaves = joins.saturating_add(stays);
                    // Half the members before a pause are gone after it.
                    if *pauses && i < *n && rng.unit() < 0.5 {
                        leaves = leaves.min(restart);
                    }
                    Member {
                        base: if regular {
                            -1.6 + rng.unit() * 0.8
                        } else {
                            -6.3 + rng.unit() * 1.5
                        },
                        joins,
                        leaves,
                        organiser: *organised && i < 5,
                        last: None,
                    }
                })
                .collect()
        })
        .collect()
}

/// Which group publishes event `e`: by share (the dominant one half the time); pausing groups
/// publish nothing during the pause.
fn publisher(rng: &mut Lcg, e: usize, events: usize) -> usize {
    let paused = |g: usize| {
        let at = e as f64 / events as f64;
        GROUPS[g].3 && at >= PAUSE.0 && at < PAUSE.1
    };
    loop {
        let mut pick = rng.unit();
        for (i, (_, share, _, _)) in GROUPS.iter().enumerate() {
            if pick < *share {
                if !paused(i) {
                    return i;
                }
                break;
            }
            pick -= share;
        }
    }
}

/// `generate`, with each event's true expected sign-ups (the sum of the members' chances the
/// generator drew from): the error of a perfect model is the floor any model can reach.
pub fn generate_with_truth(seed: u64, events: usize) -> (String, usize, Vec<f64>) {
    let mut truth = Vec::with_capacity(events);
    let mut rng = Lcg(seed);
    let mut out =
        String::from("member_id,event_id,group_id,event_kind,starts_at,announced_at,signed_up\n");
    let mut groups = members(&mut rng, events);
    // Each group's taste for each kind, and its weekly series: (kind, weekday, hour).
    let appeal: Vec<[f64; 4]> = (0..GROUPS.len())
        .map(|_| [0; 4].map(|_| rng.unit() * 1.6 - 0.8))
        .collect();
    let series: Vec<(usize, i64, u32)> = (0..GROUPS.len())
        .map(|_| (rng.below(4), rng.below(7) as i64, 18 + rng.below(3) as u32))
        .collect();
    let mut day = chrono::NaiveDate::from_ymd_opt(2012, 1, 2).unwrap();
    for e in 0..events {
        let g = publisher(&mut rng, e, events);
        day += chrono::Duration::days(1 + rng.below(3) as i64);
        // Two in five events belong to the group's weekly series (its kind, weekday, hour).
        let in_series = rng.unit() < 0.4;
        let (kind, hour) = if in_series {
            let (k, wd, h) = series[g];
            let shift =
                (wd - chrono::Datelike::weekday(&day).num_days_from_monday() as i64).rem_euclid(7);
            day += chrono::Duration::days(shift);
            (k, h)
        } else {
            (rng.below(4), [10, 14, 19, 20][rng.below(4)])
        };
        let starts = format!("{day}T{hour:02}:00:00+08:00");
        let window = 1 + rng.below(14) as i64;
        let announced = if rng.unit() < 0.35 {
            String::new()
        } else {
            format!("{}T09:00:00+08:00", day - chrono::Duration::days(window))
        };
        let season = if matches!(chrono::Datelike::month(&day), 1 | 2 | 7 | 8) {
            -0.4
        } else {
            0.0
        };
        // What no record shows: now and then an event draws a crowd, often a dull one nobody.
        let buzz = match rng.unit() {
            u if u < 0.06 => 1.2,
            u if u < 0.30 => -0.6,
            _ => 0.0,
        };
        let event = appeal[g][kind]
            + season
            + buzz
            + if in_series { 0.3 } else { 0.0 }
            + 0.04 * window as f64;
        let mut expected = 0.0;
        for (i, m) in groups[g].iter_mut().enumerate() {
            if e < m.joins || e >= m.leaves {
                continue;
            }
            // Recency: a member who came recently comes again more readily.
            let recency = match m.last {
                Some(l) if e - l < 20 => 1.0,
                _ => 0.0,
            };
            let x = if m.organiser {
                2.5
            } else {
                m.base + event + recency
            };
            expected += sigmoid(x);
            let signed = rng.unit() < sigmoid(x);
            if signed {
                m.last = Some(e);
            }
            out.push_str(&format!(
                "g{g}-m{i},ev{e},g{g},{},{starts},{announced},{}\n",
                KINDS[kind],
                u8::from(signed)
            ));
        }
        truth.push(expected);
    }
    (out, events, truth)
}

/// The generator has the properties it claims: large, mostly silent audiences (median
/// audience ≥ 80, median sign-up rate ≤ 10 %), one group with ≥ 40 % of the events, a third
/// of announce times missing, churn (audiences of one group change over time), an
/// organiser-driven group, and the same output for the same seed.
#[test]
fn the_messy_history_is_messy_in_the_ways_it_claims() {
    let (text, n) = generate(7, 400);
    assert_eq!(text, generate(7, 400).0, "deterministic");
    let h = zhijia::forecast::history_file::read_from(text.as_bytes()).unwrap();
    assert_eq!(h.rows.len(), n);
    let mut sizes: Vec<usize> = h.rows.iter().map(|r| r.invited.len()).collect();
    sizes.sort_unstable();
    let mut rates: Vec<f64> = h
        .rows
        .iter()
        .map(|r| r.signed.len() as f64 / r.invited.len().max(1) as f64)
        .collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    let mut counts: Vec<usize> = h.rows.iter().map(|r| r.signed.len()).collect();
    counts.sort_unstable();
    let mean = counts.iter().sum::<usize>() as f64 / n as f64;
    eprintln!(
        "mean sign-ups {mean:.2}, median {}, p90 {}, max {}; median audience {}, median rate {:.3}",
        counts[n / 2],
        counts[n * 9 / 10],
        counts[n - 1],
        sizes[n / 2],
        rates[n / 2]
    );
    // The real history's shape (issue 32): about 5.4 sign-ups per event, audiences in the
    // hundreds with rates under 5 %, a long right tail.
    assert!((4.0..=7.0).contains(&mean), "mean sign-ups {mean}");
    assert!(sizes[n / 2] >= 100, "median audience {}", sizes[n / 2]);
    assert!(rates[n / 2] < 0.05, "median sign-up rate {}", rates[n / 2]);
    assert!(
        counts[n * 9 / 10] >= 3 * counts[n / 2] && counts[n - 1] as f64 >= 8.0 * mean,
        "heavy-tailed counts"
    );
    let mut per_group: std::collections::HashMap<i32, Vec<&zhijia::forecast::history::PastRow>> =
        Default::default();
    for r in &h.rows {
        per_group.entry(r.unit_id).or_default().push(r);
    }
    let biggest = per_group.values().map(Vec::len).max().unwrap();
    assert!(biggest * 10 >= n * 4, "dominant group: {biggest} of {n}");
    let missing = text.lines().filter(|l| l.contains("+08:00,,")).count();
    assert!(
        missing * 4 >= text.lines().count(),
        "announce times missing: {missing}"
    );
    // Groups that stop and come back: no events of theirs during the pause, some on each side.
    let pausing: Vec<i32> = per_group
        .iter()
        .filter(|(_, rows)| {
            let at = |r: &&zhijia::forecast::history::PastRow| r.id as f64 / n as f64;
            rows.iter()
                .all(|r| !(PAUSE.0 + 0.01..PAUSE.1 - 0.01).contains(&at(r)))
                && rows.iter().any(|r| at(r) < PAUSE.0)
                && rows.iter().any(|r| at(r) > PAUSE.1)
        })
        .map(|(g, _)| *g)
        .collect();
    assert_eq!(pausing.len(), 2, "two groups pause and restart");
    // Churn: in the dominant group the first and the last events' audiences differ.
    let dominant = per_group.values().max_by_key(|v| v.len()).unwrap();
    let first: std::collections::HashSet<i32> = dominant[0].invited.iter().map(|p| p.0).collect();
    let last: std::collections::HashSet<i32> = dominant
        .last()
        .unwrap()
        .invited
        .iter()
        .map(|p| p.0)
        .collect();
    assert!(
        first.symmetric_difference(&last).count() > 100,
        "members join and leave"
    );
    // The organiser group: a handful of members make most of its sign-ups.
    let organised = per_group.values().find(|rows| {
        let mut by: std::collections::HashMap<i32, usize> = Default::default();
        for r in rows.iter() {
            for m in &r.signed {
                *by.entry(*m).or_default() += 1;
            }
        }
        let mut counts: Vec<usize> = by.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let total: usize = counts.iter().sum();
        total > 0 && counts.iter().take(5).sum::<usize>() * 2 > total
    });
    assert!(organised.is_some(), "an organiser-driven group");
}

/// Through the command a union's IT would run: on the messy history (three seeds, 400 events
/// each) `zhijia forecast-backtest --history` beats the best of the six simple figures by at
/// least 15 % (issue 32) and its 80 % intervals hold 70–90 % of the held-out events; and it
/// does not beat a perfect model (the generator's own chances), which would mean it saw the
/// outcomes. Every simple figure is printed with its MAE.
#[test]
fn on_the_messy_history_the_model_beats_the_best_simple_figure_with_honest_intervals() {
    let mut failures = Vec::new();
    for seed in [7, 11, 23] {
        if let Err(e) = messy_backtest(seed) {
            failures.push(format!("seed {seed}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn messy_backtest(seed: u64) -> Result<(), String> {
    let (text, n, truth) = generate_with_truth(seed, 400);
    let dir = crate::helpers::tempfile_dir::TempDir::new();
    let file = dir.0.join("messy.csv");
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhijia"))
        .args(["forecast-backtest", "--history"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("seed {seed}:\n{stdout}");
    let last = stdout.lines().last().unwrap();
    // "model MAE 1.96, baseline MAE 2.58, improvement 24.0%, coverage 85.0%"
    let figure = |label: &str| -> f64 {
        let part = last.split(", ").find(|p| p.starts_with(label)).unwrap();
        part[label.len()..]
            .trim()
            .trim_end_matches('%')
            .parse()
            .unwrap()
    };
    let (model, improvement, coverage) = (
        figure("model MAE"),
        figure("improvement"),
        figure("coverage"),
    );
    for code in [
        "kind_mean",
        "kind_median",
        "group_mean",
        "group_recent",
        "global_mean",
        "kind_rate",
    ] {
        assert!(stdout.contains(code), "{code} not reported:\n{stdout}");
    }
    assert!(stdout.contains("← best: the baseline"), "{stdout}");
    // The floor: a model that knew each member's true chance.
    let h = zhijia::forecast::history_file::read_from(text.as_bytes()).unwrap();
    let k = zhijia::forecast::service::held_out_for(n);
    let floor = h.rows[n - k..]
        .iter()
        .map(|r| (r.signed.len() as f64 - truth[r.id as usize - 1]).abs())
        .sum::<f64>()
        / k as f64;
    eprintln!("a perfect model's MAE on the held-out events: {floor:.2}");
    if improvement < 15.0 {
        return Err(format!("not 15 % better: {last}"));
    }
    if !(70.0..=90.0).contains(&coverage) {
        return Err(format!("coverage outside 70–90 %: {last}"));
    }
    if model <= floor * 0.9 {
        return Err(format!(
            "model MAE {model} below the floor {floor:.2}: it sees the outcomes"
        ));
    }
    Ok(())
}
