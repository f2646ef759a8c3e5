#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and prints executions and crashes per target.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 30 s each, all targets)
# Inputs that libFuzzer finds interesting accumulate in fuzz/corpus/<target>/ (not committed);
# fuzz/seeds/<target>/ is the committed starting point (regenerate with
# `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`). A crash leaves its input
# in fuzz/artifacts/<target>/; reproduce it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz <target> fuzz/artifacts/<target>/crash-...
# Exits 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(secret_file config classify decide)

# cargo-fuzz passes nightly-only flags (-Zsanitizer); this stable toolchain accepts them only
# with RUSTC_BOOTSTRAP (see NOTES.md).
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

max_len() {
    case $1 in
        secret_file) echo 70000 ;; # past the 64 KiB file limit
        classify) echo 256 ;;      # past the 128-byte input limit
        *) echo 8192 ;;
    esac
}

cargo fuzz build --fuzz-dir fuzz

# libFuzzer's full output per target, kept for a look after a crash.
logs=${CARGO_TARGET_DIR:-fuzz/target}/fuzz-logs
mkdir -p "$logs"
status=0
summary=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    echo "== $t: ${seconds} s"
    set +e
    cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$logs/$t" 2>&1
    rc=$?
    set -e
    # libFuzzer's last words: "Done N runs in S second(s)" on a clean finish; the final stats
    # (printed either way) carry the count when it stopped on a crash.
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$logs/$t" | tail -1)
    [ -n "$runs" ] || runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$logs/$t" | tail -1)
    [ -n "$runs" ] || runs=0
    after=$(find "fuzz/artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes="? (exit $rc)"
    fi
    if [ "$rc" -ne 0 ] || [ "$crashes" != 0 ]; then
        status=1
        grep -E "panicked|ERROR|SUMMARY|Test unit written" "$logs/$t" | head -20 || true
        tail -5 "$logs/$t"
        echo "(full output: $logs/$t)"
    fi
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    summary+=("$(printf '%-12s %8s s %14s runs %12s runs/s %8s corpus   crashes: %s' \
        "$t" "$seconds" "$runs" "$((runs / (seconds > 0 ? seconds : 1)))" "$corpus" "$crashes")")
done

echo
echo "== fuzzing summary"
printf '%s\n' "${summary[@]}"
exit $status
