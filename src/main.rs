//! The `zhijia` binary: parse the command line and run the chosen command.

use std::process::ExitCode;

use clap::Parser;
use zhijia::cli::{AdminCommand, Cli, Command};
use zhijia::error::{AppError, AppResult};
use zhijia::{db, demo, members};

/// mimalloc instead of glibc malloc: glibc kept ~10 MiB more freed memory in per-thread arenas
/// after a saturating run, and home pages ran 8 % faster (A/B in docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The HTTP client's own debug lines carry request URLs (WeCom's hold the access token and
    // the secret): never below warn, whatever RUST_LOG says.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .filter_module("ureq", log::LevelFilter::Warn)
        .filter_module("ureq_proto", log::LevelFilter::Warn)
        .filter_module("rustls", log::LevelFilter::Warn)
        .filter_module("lettre", log::LevelFilter::Warn)
        .init();
    let cli = Cli::parse();
    if matches!(cli.command, None | Some(Command::Serve)) {
        tune_allocator();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误 / error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// mimalloc reads its options from the environment once, before `main` runs, so a serving
/// instance re-executes itself once with arenas committed as they are used rather than up
/// front (unless the operator set `MIMALLOC_ARENA_EAGER_COMMIT`). With the lazy dummy hash this
/// took the idle instance from 61 to 34 MiB and the peak of the news benchmark from 92 to 54 MiB
/// at no measurable CPU cost (docs/performance.md, "Memory at group scale"). A shorter purge
/// delay was tried too: no less memory, ~15 % more CPU per page.
#[cfg(unix)]
fn tune_allocator() {
    use std::os::unix::process::CommandExt;
    const MARK: &str = "ZHIJIA_ALLOCATOR_TUNED";
    if std::env::var_os(MARK).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args_os().skip(1)).env(MARK, "1");
    if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
        cmd.env("MIMALLOC_ARENA_EAGER_COMMIT", "0");
    }
    // `exec` returns only when it failed (say, the binary was replaced on disk).
    let err = cmd.exec();
    log::warn!("serving without the allocator settings: cannot re-execute ({err})");
}

#[cfg(not(unix))]
fn tune_allocator() {}

fn describe(e: &AppError) -> String {
    match e {
        AppError::Internal(m) | AppError::Validation(m) => m.clone(),
        other => other.to_string(),
    }
}

fn run(cli: Cli) -> AppResult<()> {
    let config = cli.global.config()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Migrate => {
            let pool = db::build_pool(&config.database, 2)?;
            let mut conn = pool.get()?;
            let n = db::migrate(&mut conn)?;
            println!("applied {n} migration(s); the database is up to date");
            Ok(())
        }
        Command::Admin {
            action:
                AdminCommand::Create {
                    employee_no,
                    name,
                    password,
                },
        } => create_admin(config, &employee_no, &name, password),
        Command::ImportMembers { file } => {
            let state = zhijia::build_state(config)?;
            let report = members::import::import_file(&state, &file)?;
            print!("{}", report.summary());
            if !report.errors.is_empty() {
                return Err(AppError::Validation(format!(
                    "{} row(s) were not imported",
                    report.errors.len()
                )));
            }
            Ok(())
        }
        Command::Demo { serve: and_serve } => {
            let state = zhijia::build_state(config.clone())?;
            demo::seed(&state)?;
            drop(state);
            if and_serve {
                serve(config)?;
            }
            Ok(())
        }
        Command::Check { repair } => check(&config, repair),
        Command::ForecastBacktest { held_out, history } => {
            forecast_backtest(&config, held_out, history.as_deref())
        }
        Command::Backup { file } => {
            if file.exists() {
                return Err(AppError::Validation(format!(
                    "{} already exists",
                    file.display()
                )));
            }
            let pool = db::build_pool(&config.database, 2)?;
            let dest = file.to_string_lossy().to_string();
            let mut conn = pool.get()?;
            db::dialect::backup(&mut conn, &dest)?;
            println!("backup written to {}", file.display());
            Ok(())
        }
    }
}

/// `zhijia admin create`: an administrator, with a generated password unless one is given.
fn create_admin(
    config: zhijia::Config,
    employee_no: &str,
    name: &str,
    password: Option<String>,
) -> AppResult<()> {
    let state = zhijia::build_state(config)?;
    let generated = password.is_none();
    let password = password.unwrap_or_else(|| zhijia::auth::random_token(10));
    if let Some(r) = zhijia::auth::password::weak_password_reason(&password, employee_no) {
        return Err(AppError::Validation(format!("password refused: {r}")));
    }
    let hash = zhijia::auth::password::hash_blocking(state.config.hash_cost, &password)?;
    let now = state.config.clock.now();
    let mut conn = state.pool.get()?;
    let id = zhijia::auth::service::create_admin(&mut conn, employee_no, name, &hash, now)?;
    println!("administrator {employee_no} created (id {id})");
    if generated {
        println!("password: {password}");
    }
    Ok(())
}

/// `zhijia check [--repair]`: every invariant, and a recount of the repairable ones.
fn check(config: &zhijia::Config, repair: bool) -> AppResult<()> {
    let pool = db::build_pool(&config.database, 2)?;
    let mut conn = pool.get()?;
    db::migrate(&mut conn)?;
    let found = zhijia::invariants::check(&mut conn)?;
    for v in &found {
        println!("{v}{}", if v.repairable { " (repairable)" } else { "" });
    }
    if repair && found.iter().any(|v| v.repairable) {
        let actor = zhijia::audit::Actor {
            id: None,
            name: "zhijia check --repair".into(),
            ip: None,
            now: config.clock.now(),
        };
        let fixed = zhijia::invariants::repair(&mut conn, &actor)?;
        println!("repaired {} count(s)", fixed.len());
        let left = zhijia::invariants::check(&mut conn)?;
        println!("{} problem(s) left", left.len());
        return if left.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(format!(
                "{} problem(s) left",
                left.len()
            )))
        };
    }
    if found.is_empty() {
        println!("all invariants hold");
        Ok(())
    } else {
        Err(AppError::Validation(format!(
            "{} problem(s) found; `zhijia check --repair` recomputes the repairable ones",
            found.len()
        )))
    }
}

/// `zhijia forecast-backtest`: train on the older activities, predict the most recent ones.
fn forecast_backtest(
    config: &zhijia::Config,
    held_out: Option<usize>,
    file: Option<&std::path::Path>,
) -> AppResult<()> {
    let started = std::time::Instant::now();
    let (h, now) = match file {
        Some(path) => {
            let h = zhijia::forecast::history_file::read(path).map_err(AppError::Validation)?;
            // "Now" is just after the file's last event: everything in it is history.
            let last = h.rows.last().map(|r| r.plan.starts_at);
            let now = last.map_or(config.clock.now(), |t| {
                zhijia::time::plus(t, chrono::Duration::days(1))
            });
            (h, now)
        }
        None => {
            let pool = db::build_pool(&config.database, 2)?;
            let mut conn = pool.get()?;
            db::migrate(&mut conn)?;
            let now = config.clock.now();
            (
                zhijia::forecast::history::History::load(&mut conn, now)?,
                now,
            )
        }
    };
    let n = h.rows.len();
    if n < 20 {
        let hint = if file.is_some() {
            "add more events to the file"
        } else {
            "try `zhijia demo` first"
        };
        return Err(AppError::Validation(format!(
            "only {n} past activities: the backtest needs at least 20 ({hint})"
        )));
    }
    let k = held_out
        .unwrap_or_else(|| zhijia::forecast::service::held_out_for(n))
        .min(n.saturating_sub(10));
    let pairs: usize = h.rows.iter().map(|r| r.invited.len()).sum();
    println!("history: {n} past activities, {pairs} member × activity pairs");
    println!(
        "training on the oldest {}, predicting the most recent {k} in time order…",
        n.saturating_sub(k)
    );
    let bt = zhijia::forecast::backtest(&h, k, now);
    println!(
        "done in {:.2} s; point forecast: the median of a count model over the member-level sum and the simple figures; 80% intervals: its negative binomial quantiles, dispersion calibrated on sequential predictions of the newer training activities",
        started.elapsed().as_secs_f64()
    );
    println!("simple figures on the same split (MAE):");
    for (s, mae) in &bt.baselines {
        let best = if *s == bt.best {
            "  ← best: the baseline"
        } else {
            ""
        };
        println!("  {:<14} {mae:>8.2}  {}{best}", s.as_str(), s.label());
    }
    println!("  {:<14} {:>8.2}", "model", bt.model_mae);
    for (kind, n, model, base) in &bt.per_kind {
        println!("  {kind}: {n} held out, model MAE {model:.2}, baseline MAE {base:.2}");
    }
    println!("{}", bt.line());
    Ok(())
}

fn serve(config: zhijia::Config) -> AppResult<()> {
    actix_web::rt::System::new().block_on(zhijia::app::run(config))
}
