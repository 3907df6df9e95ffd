#!/usr/bin/env bash
# tests/docs_test.sh [ANCHORSWEEP_BIN]: every config key the documentation names must be known to
# the program. It collects, from README.md and docs/*.md,
#   - every `--set KEY=VALUE` example (in prose or in code blocks), and
#   - every key written as `section.key` (or `section.key = value`) in backticks,
# where section is one of the config's sections (run, data, model, pretrain, finetune, adapter,
# penalty, sweep; subtables such as data.synthetic and sweep.range are reached through them).
# Each key is checked with
#   anchorsweep validate tests/tiny.toml --set KEY=VALUE
# (the example's value where there is one, else 0). config/ reports a key it does not know as
# "KEY: unknown key" (or "KEY: unknown table") and exits 2; any other outcome (exit 0, or exit 2
# for a bad value) means the key exists. A typo'd key is checked first, as a control, so that the
# test cannot pass because the message changed.
# Then docs/config-reference.md must equal `anchorsweep keys`'s output, and README.md and configs/
# must quote no wall time (it drifts).
# Prints each failure and ends with "docs test: N passed, M failed"; exits 1 if M > 0 or if fewer
# than 20 distinct keys were found. DOCS_TEST_LIST=1 only lists the KEY<TAB>VALUE pairs it would check.
set -uo pipefail

bin=${1:-build/anchorsweep}
root=$(cd "$(dirname "$0")/.." && pwd)
# The binary relative to the caller's directory, else to the repository root.
if [ -e "$bin" ]; then
  bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
elif [ -e "$root/$bin" ]; then
  bin=$root/$bin
fi
cd "$root"

sections='run|data|model|pretrain|finetune|adapter|penalty|sweep'
key_re="(${sections})(\\.[A-Za-z_][A-Za-z0-9_]*)+"
# Backticked names that look like section.key but are files (run.json, ...).
not_a_key='[.](json|jsonl|toml|csv|md|html|png|svg|pt|ckpt|dat|gp|sh|py|sbatch|txt|log|cpp|hpp)$'

docs=(README.md docs/*.md)

# One "KEY<TAB>VALUE" line per occurrence (VALUE empty when the docs give none).
extract() {
  # --set KEY=VALUE: the value runs to whitespace, a quote that closes a shell word, or a backtick.
  grep -ohE -- "--set +'?${key_re}=[^[:space:]'\`]*" "${docs[@]}" |
    sed -E "s/^--set +'?//; s/=/\t/"
  # `KEY` or `KEY = VALUE` in backticks.
  grep -ohE "\`${key_re}( *= *[^\`]*)?\`" "${docs[@]}" |
    sed -E 's/^`//; s/`$//' |
    sed -E 's/^([^ =]+) *= *(.*)$/\1\t\2/; /\t/!s/$/\t/'
}

mapfile -t checks < <(extract | awk -F'\t' -v skip="$not_a_key" '$1 !~ skip' | sort -u)
if [ "${DOCS_TEST_LIST:-}" = 1 ]; then  # only list what would be checked
  printf '%s\n' "${checks[@]}"
  exit 0
fi

passed=0
failed=0
fail() {
  echo "FAIL: $*"
  failed=$((failed + 1))
}

if [ ! -x "$bin" ]; then
  fail "no anchorsweep binary at ${1:-build/anchorsweep} (build it first, or pass its path)"
  echo "docs test: $passed passed, $failed failed"
  exit 1
fi

# validate_key KEY VALUE: sets $out and $rc.
validate_key() {
  out=$("$bin" validate tests/tiny.toml --set "$1=$2" 2>&1)  # the tiny config: its data is generated fastest
  rc=$?
}

# Control: a key the program does not know must be reported as unknown.
validate_key pretrain.no_such_key 1
if [ "$rc" -eq 2 ] && grep -qF "pretrain.no_such_key: unknown key" <<< "$out"; then
  passed=$((passed + 1))
else
  fail "control: 'validate --set pretrain.no_such_key=1' did not report 'pretrain.no_such_key: unknown key' (exit $rc): $out"
fi

# Each check's validate runs in the background, as many at once as there are cores (each is
# mostly the program's start-up); the results are read in order below.
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
jobs_max=$(nproc)
for i in "${!checks[@]}"; do
  line=${checks[$i]}
  key=${line%%$'\t'*}
  value=${line#*$'\t'}
  [ -n "$value" ] || value=0
  ( validate_key "$key" "$value"; printf '%s' "$out" > "$results/$i.out"; echo "$rc" > "$results/$i.rc" ) &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
done
wait

declare -A keys=()
for i in "${!checks[@]}"; do
  line=${checks[$i]}
  key=${line%%$'\t'*}
  value=${line#*$'\t'}
  keys[$key]=1
  [ -n "$value" ] || value=0
  out=$(cat "$results/$i.out")
  rc=$(cat "$results/$i.rc")
  where=$(grep -lE -- "${key//./\\.}([^A-Za-z0-9_.]|\$)" "${docs[@]}" | tr '\n' ' ')
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
    fail "$key (--set $key=$value, in ${where% }): validate exited $rc: $out"
  elif grep -qE ": unknown (key|table)" <<< "$out"; then
    fail "$key (--set $key=$value, in ${where% }): $(grep -E ': unknown (key|table)' <<< "$out" | head -1)"
  else
    passed=$((passed + 1))
  fi
done

# The configuration reference is generated from the code: docs/config-reference.md must be what
# `anchorsweep keys` prints now.
if reference=$("$bin" keys) && diff <(printf '%s\n' "$reference") docs/config-reference.md > /dev/null; then
  passed=$((passed + 1))
else
  fail "docs/config-reference.md is not \`anchorsweep keys\`'s output: regenerate it with build/anchorsweep keys > docs/config-reference.md"
fi

# The README and the configs quote no wall times: those drift with the code and the machine (the
# README once said 70-95 s for a 37 s demo). Measured times live in docs/performance.md with how
# they were taken, and in each run's report; docs/results-so-far.md is regenerated by a script.
timing_re='(takes|took|finish(es|ed)?|runs? in|in under|lasts?)[^.]*[0-9]+(\.[0-9]+)? ?(s|sec|seconds|min|minutes|h|hours)\b'
if stale=$(grep -nE "$timing_re" README.md configs/*.toml); then
  fail "a wall time quoted where it will drift (say where to read it instead): $stale"
else
  passed=$((passed + 1))
fi

if [ "${#keys[@]}" -lt 20 ]; then
  fail "only ${#keys[@]} distinct config keys found in ${docs[*]} (expected at least 20): is the extraction broken?"
fi
echo "${#keys[@]} distinct config keys in ${#checks[@]} checks, plus the control"
echo "docs test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
