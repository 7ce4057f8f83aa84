//! The ratio docs/DESIGN.md "Performance targets" sets (`analyze` within 1.5x of the bare parse), measured so
//! that this shared VM's drift cancels out: the two are timed in alternating short rounds, each
//! round gives one ratio, and the median round is reported. Criterion (`benches/analyze.rs`)
//! times them minutes apart, and between those minutes the host's load moves by up to 60%.
//! Run: `cargo bench --no-default-features --features cli --bench ratio` (part of `make bench`).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use invite_router::core::{Limits, SenderPolicy, analyze};

#[path = "common/cases.rs"]
mod cases;

const ROUNDS: usize = 41;
/// Long enough per round to swamp the timer, short enough for the load not to move within it.
const ROUND_TIME: Duration = Duration::from_millis(20);

fn iterations_per_round(raw: &[u8]) -> u32 {
    let started = Instant::now();
    let mut runs = 0u32;
    while started.elapsed() < ROUND_TIME {
        black_box(cases::bare_parse(black_box(raw)));
        runs += 1;
    }
    runs.max(1)
}

fn time(runs: u32, mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..runs {
        f();
    }
    started.elapsed()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let limits = Limits::default();
    let policy = SenderPolicy::default();
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this too, without it: then
    // each case runs once, as a smoke test, instead of for half a minute of unoptimized rounds.
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    if benchmarking {
        println!(
            "{:<40} {:>10} {:>10} {:>7} {:>13}",
            "email", "bare", "analyze", "ratio", "ratio range"
        );
    }
    for case in cases::CASES {
        if filter
            .as_deref()
            .is_some_and(|filter| !case.contains(filter))
        {
            continue;
        }
        let Ok(raw) = std::fs::read(root.join(case)) else {
            eprintln!("skipping {case}: not found");
            continue;
        };
        if !benchmarking {
            black_box(cases::bare_parse(&raw));
            black_box(analyze(&raw, &limits, &policy));
            continue;
        }
        let runs = iterations_per_round(&raw);
        let mut rounds: Vec<(f64, f64)> = (0..ROUNDS)
            .map(|_| {
                let bare = time(runs, || {
                    black_box(cases::bare_parse(black_box(&raw)));
                });
                let ours = time(runs, || {
                    black_box(analyze(black_box(&raw), &limits, &policy));
                });
                (bare.as_secs_f64(), ours.as_secs_f64())
            })
            .collect();
        rounds.sort_by(|a, b| (a.1 / a.0).total_cmp(&(b.1 / b.0)));
        let (bare, ours) = rounds[ROUNDS / 2];
        let per_run = |seconds: f64| seconds / f64::from(runs) * 1e6;
        let ratio = |round: &(f64, f64)| round.1 / round.0;
        let name = Path::new(case)
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!(
            "{name:<40} {:>7.1} µs {:>7.1} µs {:>6.2}x {:>5.2}-{:.2}x",
            per_run(bare),
            per_run(ours),
            ratio(&rounds[ROUNDS / 2]),
            ratio(&rounds[ROUNDS / 4]),
            ratio(&rounds[3 * ROUNDS / 4]),
        );
    }
}
