//! Where `make bench` collects each benchmark's figures for benches/cost.py: the directory named
//! by BENCH_FIGURES, one JSON object per benchmark. Without it nothing is written.

pub fn record(benchmark: &str, figures: &serde_json::Value) {
    let Some(directory) = std::env::var_os("BENCH_FIGURES") else {
        return;
    };
    let directory = std::path::PathBuf::from(directory);
    let path = directory.join(format!("{benchmark}.json"));
    std::fs::create_dir_all(&directory)
        .and_then(|()| std::fs::write(&path, format!("{figures:#}\n")))
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
}
