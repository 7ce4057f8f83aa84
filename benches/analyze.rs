//! The core's cost against the floor it cannot go below: mail-parser's and icalendar's own parse
//! of the same emails. The target (docs/DESIGN.md "Performance targets") is `analyze` within 1.5x of that floor.
//! Run: `make bench` (or `cargo bench --bench analyze`); results in docs/BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use invite_router::core::{Limits, SenderPolicy, analyze};

#[path = "common/cases.rs"]
mod cases;

fn benches(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let limits = Limits::default();
    let policy = SenderPolicy::default();
    let mut group = c.benchmark_group("invite");
    for case in cases::CASES {
        let Ok(raw) = std::fs::read(root.join(case)) else {
            eprintln!("skipping {case}: not found");
            continue;
        };
        let name = Path::new(case)
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        group.bench_function(format!("{name}/bare_parse"), |b| {
            b.iter(|| cases::bare_parse(black_box(&raw)))
        });
        group.bench_function(format!("{name}/analyze"), |b| {
            b.iter(|| analyze(black_box(&raw), &limits, &policy))
        });
    }
    group.finish();
}

criterion_group!(core_benches, benches);
criterion_main!(core_benches);
