#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for SECONDS each, JOBS at a time, from the seed
# corpus made from fixtures/ (fuzz/examples/seeds.rs). Fails if any target finds a crash, a
# panic, a hang over 10 s or memory over 2 GB; the input is kept in fuzz/artifacts/.
#   scripts/fuzz.sh            # the smoke run of make test: 10 s per target
#   scripts/fuzz.sh 600 2      # the long runs of docs/robustness.md
# Built with cargo-fuzz on the stable toolchain: no sanitizer (the crate forbids unsafe code),
# debug assertions on, so integer overflow panics as it does in tests.
set -euo pipefail
seconds=${1:-10}
jobs=${2:-1}
cd "$(dirname "$0")/.."

command -v cargo-fuzz >/dev/null || cargo install --quiet --locked cargo-fuzz
cargo run --quiet --release --manifest-path fuzz/Cargo.toml --example seeds >/dev/null
(cd fuzz && cargo fuzz build -s none -O -a 2>&1 | grep -v '^ *Compiling' || true)
host=$(rustc -vV | sed -n 's/^host: //p')
export BIN="fuzz/target/$host/release" SECONDS_EACH="$seconds"
mkdir -p fuzz/logs fuzz/artifacts

run_one() {
    local target=$1
    "$BIN/$target" "fuzz/corpus/$target" -max_total_time="$SECONDS_EACH" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$target-" \
        >"fuzz/logs/$target.log" 2>&1
    local code=$?
    # libFuzzer's last status line: "#RUNS DONE cov: EDGES ft: FEATURES corp: N/SIZE ... rss: MB".
    local final runs cov rss
    final=$(grep -E '^#[0-9]+[[:space:]]+DONE' "fuzz/logs/$target.log" | tail -n 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz/logs/$target.log")
    cov=$(grep -o 'cov: [0-9]*' <<<"$final" | cut -d' ' -f2)
    rss=$(grep -o 'rss: [0-9]*Mb' <<<"$final" | cut -d' ' -f2)
    if [ "$code" -eq 0 ]; then
        printf 'fuzz %-13s ok  %11s runs  %5s edges  %6s peak\n' "$target" "$runs" "$cov" "$rss"
    else
        printf 'fuzz %-13s FAIL  (exit %s) see fuzz/logs/%s.log\n' "$target" "$code" "$target"
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "fuzz/logs/$target.log" | head -n 5
        return 1
    fi
}
export -f run_one

ls fuzz/fuzz_targets | sed 's/\.rs$//' | xargs -P "$jobs" -I{} bash -c 'run_one {}'
