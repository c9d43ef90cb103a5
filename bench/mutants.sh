#!/usr/bin/env bash
# Mutation testing with cargo-mutants (https://mutants.rs/) of the code that judges, observes and
# reports (.cargo/mutants.toml), and of the emulator's fault paths (.cargo/mutants-emulator.toml):
# each small change of that code (a rule's comparison flipped, a function returning a default)
# must make a fast test fail. Figures, not pass/fail.
#
#   bench/mutants.sh                 # every scope, in this order
#   bench/mutants.sh judge report    # some of them
#   bench/mutants.sh --list judge    # the mutants only, nothing built
#
# Scopes: judge (src/judge/), observe (the snapshot, the timeout measurement), config (the
# redaction of secrets, what a target supports), probe, report (findings and exit codes, the
# writers), emulator (crm-sim's fault paths, tested by crm-sim's own tests).
#
# In place by default: each mutant is written into this tree's source, built incrementally in
# its target/ and reverted (so do not edit the tree while it runs); MUTANTS_COPY=1 tests in a
# scratch copy instead, which first rebuilds every dependency with a build script (about 20
# minutes on two busy cores). One mutant at a time, under `nice -n 10` (the machine is shared),
# with a timeout of 120 s per mutant's tests in place; each scope's output in
# target/mutants/<scope>/ (cargo-mutants' mutants.out: diffs and logs of every mutant), and a
# summary per scope (caught, missed, unviable, timeouts; every missed mutant by name) appended
# to bench/results/mutants-<date>.md. Needs `cargo install --locked cargo-mutants` (27.1).
# CARGO_MUTANTS_ARGS adds arguments to every run (`--shard 0/4`, `--timeout 300`,
# `--in-diff FILE` to test only the mutants a change touches).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "bench/mutants.sh: cargo-mutants is not installed; run: cargo install --locked cargo-mutants" >&2
    exit 2
fi

list=false
if [ "${1:-}" = "--list" ]; then
    list=true
    shift
fi
all=(judge observe config probe report emulator)
scopes=("$@")
[ ${#scopes[@]} -gt 0 ] || scopes=("${all[@]}")

# A scope: its config, and the files of the other scopes of that config, left out. (Files, not
# a --re on the mutants' names: cargo-mutants 27.1 applies --re to no "delete field" mutant.)
scope_globs() {
    case "$1" in
        judge) echo 'src/judge/**' ;;
        observe) echo 'src/observe/**' ;;
        config) echo 'src/config/**' ;;
        probe) echo 'src/engine/**' ;;
        report) echo 'src/report/**' ;;
        emulator) echo 'fixtures/crm-sim/**' ;;
        *) return 1 ;;
    esac
}
scope_config() {
    if [ "$1" = emulator ]; then echo .cargo/mutants-emulator.toml; else echo .cargo/mutants.toml; fi
}
# The arguments that select scope $1: its config and every other scope's files excluded.
scope_args() {
    echo "--config $(scope_config "$1")"
    [ "$1" != emulator ] || echo "--package crm-sim"
    for other in "${all[@]}"; do
        [ "$other" = "$1" ] || echo "--exclude $(scope_globs "$other")"
    done
}
for s in "${scopes[@]}"; do
    scope_globs "$s" >/dev/null || {
        echo "bench/mutants.sh: unknown scope '$s'; valid: ${all[*]}" >&2
        exit 2
    }
done

if $list; then
    for s in "${scopes[@]}"; do
        # shellcheck disable=SC2046 # scope_args prints whole words, globs quoted by `set -f`
        (set -f; cargo mutants $(scope_args "$s") --list)
    done
    exit 0
fi

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench/results/mutants-${stamp}.md"
mkdir -p bench/results target/mutants
{
    echo "# cargo-mutants, ${stamp}"
    echo
    echo "Figures, not pass/fail: bench/mutants.sh ${scopes[*]}. Commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src fixtures/crm-sim || echo ' plus uncommitted changes');"
    echo "$(cargo mutants --version), $(rustc --version); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start."
    echo "One mutant at a time, $( [ -n "${MUTANTS_COPY:-}" ] && echo "in a scratch copy" || echo "in place, 120 s timeout" ), under nice -n 10. Test command: \`cargo test --lib\` of logout-harness"
    echo "(.cargo/mutants.toml); for the emulator, \`cargo test -p crm-sim\` (.cargo/mutants-emulator.toml)."
    echo
    echo "| scope | mutants | caught | missed | unviable | timeouts | wall time |"
    echo "|---|---|---|---|---|---|---|"
} >"$out"

details=""
for s in "${scopes[@]}"; do
    dir="target/mutants/$s"
    rm -rf "$dir"
    mkdir -p "$dir"
    started=$SECONDS
    # cargo-mutants exits 2 when a mutant is missed and 3 on a timeout: figures, not a failure.
    # shellcheck disable=SC2086 # CARGO_MUTANTS_ARGS is a list of words
    # shellcheck disable=SC2046 # scope_args prints whole words, globs kept by `set -f`
    where="--in-place --timeout 120"
    [ -z "${MUTANTS_COPY:-}" ] || where="--jobs 1"
    # shellcheck disable=SC2086 # $where is a list of words
    (set -f; nice -n 10 cargo mutants $(scope_args "$s") $where --output "$dir" \
        --no-shuffle ${CARGO_MUTANTS_ARGS:-}) || true
    took=$((SECONDS - started))
    m="$dir/mutants.out"
    count() { if [ -f "$m/$1.txt" ]; then grep -c . "$m/$1.txt" || true; else echo 0; fi; }
    total=$(($(count caught) + $(count missed) + $(count unviable) + $(count timeout)))
    printf '| %s | %d | %d | %d | %d | %d | %d min |\n' "$s" "$total" "$(count caught)" \
        "$(count missed)" "$(count unviable)" "$(count timeout)" $(((took + 59) / 60)) >>"$out"
    for kind in missed timeout; do
        if [ -s "$m/$kind.txt" ]; then
            details+=$'\n'"### ${s}: ${kind}"$'\n\n'"$(sed 's/^/- `/; s/$/`/' "$m/$kind.txt")"$'\n'
        fi
    done
done
if [ -n "$details" ]; then
    printf '\n## Missed and timed out, by name\n%s' "$details" >>"$out"
fi
echo "bench/mutants.sh: wrote $out"
cat "$out"
