#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each, on the stable toolchain: cargo-fuzz's
# nightly flags are allowed by RUSTC_BOOTSTRAP=1. No sanitizer: tessera forbids unsafe code, and
# the C underneath (aws-lc, SQLite) is not instrumented by Rust's sanitizer flags anyway; what is
# looked for is panics, 5xx answers to client bytes and differential disagreements.
# Crashes land in fuzz/artifacts/TARGET/; each found becomes a regression test (FUZZING.md).
# Needs: cargo install cargo-fuzz. Not run by CI.
#
# Usage: fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-60}"
export RUSTC_BOOTSTRAP=1
for t in $(cargo fuzz list); do
  mkdir -p "corpus/$t"
  echo "== $t" >&2
  cargo fuzz run --sanitizer none -O "$t" "corpus/$t" -- -max_total_time="$SECONDS_EACH" \
    -print_final_stats=1 2>&1 | grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|#[0-9]+ +DONE|==|.*panicked|SUMMARY|Test unit written)" || true
done
