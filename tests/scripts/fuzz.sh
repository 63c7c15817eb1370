#!/usr/bin/env bash
# The fuzz targets (tests/fuzz/<name>.c, built by the Makefile's pattern
# rule into build-fuzz/bin/<name>: clang, libFuzzer, ASan, UBSan): each
# replays its whole seed corpus (tests/fuzz/corpus/<name>/: every file
# must run clean), then fuzzes for FUZZ_TEST_SECONDS (2) from a scratch copy
# of it.  A crash, a leak or a sanitizer report fails the suite; the input
# that caused it is kept under build-fuzz/crashes/<name>/.  `make fuzz`
# runs the same targets for longer (FUZZ_SECONDS).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$repo" || exit 1
secs=${FUZZ_TEST_SECONDS:-2}
fail() { printf 'fuzz: FAIL: %s\n' "$*"; exit 1; }

# `make test` builds them; built here when this runs on its own.
make -s --no-print-directory fuzz-build >/dev/null 2>&1 || fail "make fuzz-build failed (is clang-14 with libFuzzer installed?)"
n=0
for src in tests/fuzz/*.c; do
    name=$(basename "$src" .c)
    bin=build-fuzz/bin/$name
    seeds=tests/fuzz/corpus/$name
    [ -x "$bin" ] || fail "$bin was not built"
    [ -n "$(ls -A "$seeds" 2>/dev/null)" ] || fail "$name has no seed corpus in $seeds"
    out=$("$bin" -runs=0 "$seeds" 2>&1) || fail "$name: a seed fails: $(tail -n 20 <<<"$out")"
    work=$(mktemp -d)
    cp "$seeds"/* "$work"/
    mkdir -p "build-fuzz/crashes/$name"
    out=$("$bin" -max_total_time="$secs" -artifact_prefix="build-fuzz/crashes/$name/" "$work" 2>&1)
    rc=$?
    rm -rf "$work"
    [ "$rc" -eq 0 ] || fail "$name: $(tail -n 30 <<<"$out")"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no fuzz targets under tests/fuzz"
echo "fuzz: ok ($n targets: corpora replayed, ${secs} s each)"
