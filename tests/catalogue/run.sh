#!/usr/bin/env bash
# The catalogue of bad inputs: every configs/*.toml must be refused by `anchorsweep run` (and,
# with --both, by `anchorsweep validate` too) with exit code 2, a message that contains the
# file's `# expect:` text, and nothing written to the run's output directory.
# Before that, controls/*.toml (the good data files the cases lean on) must validate with exit 0.
# `run` alone is what the test suite checks (it validates first, and is the command that could
# write); --both doubles the time (each start loads LibTorch).
#
# usage: run.sh ANCHORSWEEP_BIN [--both]   (works from any directory; needs no root and no network)
set -u

both=0
if [ $# -eq 2 ] && [ "$2" = "--both" ]; then
  both=1
elif [ $# -ne 1 ]; then
  echo "usage: $0 ANCHORSWEEP_BIN [--both]" >&2
  exit 2
fi
bin=$1
case $bin in
  */*) bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin") || exit 2 ;;
esac
if ! command -v "$bin" >/dev/null 2>&1; then
  echo "run.sh: $1: not an executable" >&2
  exit 2
fi

here=$(cd "$(dirname "$0")" && pwd) || exit 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/anchorsweep-catalogue.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

export OMP_NUM_THREADS=1
# Skip `run`'s one re-exec that sets OMP_WAIT_POLICY: it only costs start-up time here.
export ANCHORSWEEP_KEEP_OMP_WAIT=1
time_limit=60
# A case the tool wrongly accepts would train; cap its address space so that a huge model
# (model.hidden = 100000 and the like) fails to allocate instead of taking the machine's memory.
mem_limit_kb=$((8 * 1024 * 1024))

passed=0
failed=0
controls=0
cases=0

# run_tool OUTFILE ARGS...: runs the binary under the limits; its exit code is the result.
run_tool() {
  local out=$1
  shift
  (ulimit -v "$mem_limit_kb" 2>/dev/null; exec timeout "$time_limit" "$bin" "$@") >"$out" 2>&1 </dev/null
}

indent() { sed "s/^/    ${1##*.}| /" "$1"; }  # prefixes each line with validate| or run|

report() {  # report NAME WHY OUTPUTFILE...
  local name=$1 why=$2
  shift 2
  if [ -z "$why" ]; then
    echo "ok $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name:$why"
    for f in "$@"; do
      [ -s "$f" ] && indent "$f"
    done
    failed=$((failed + 1))
  fi
}

# Controls: good inputs must pass, or the bad cases built on them prove nothing.
for cfg in "$here"/controls/*.toml; do
  [ -e "$cfg" ] || continue
  controls=$((controls + 1))
  name=control-$(basename "$cfg" .toml)
  out=$tmp/$name.validate
  run_tool "$out" validate "$cfg"
  rc=$?
  why=""
  [ "$rc" -eq 0 ] || why=" validate exited $rc, expected 0"
  report "$name" "$why" "$out"
done

for cfg in "$here"/configs/*.toml; do
  [ -e "$cfg" ] || continue
  cases=$((cases + 1))
  name=$(basename "$cfg" .toml)
  expect=$(head -n 1 "$cfg" | sed -n 's/^# expect: //p')
  if [ -z "$expect" ]; then
    report "$name" " first line is not '# expect: <substring>'"
    continue
  fi
  new_rule=""
  sed -n 2p "$cfg" | grep -q '^# new rule' && new_rule=" (new rule)"

  why=""
  vout=$tmp/$name.validate
  : > "$vout"
  if [ "$both" -eq 1 ]; then
    run_tool "$vout" validate "$cfg"
    rc=$?
    if [ "$rc" -ne 2 ]; then
      why="$why validate exited $rc, expected 2;"
    elif ! grep -qF -- "$expect" "$vout"; then
      why="$why validate output lacks '$expect';"
    fi
  fi

  outdir=$tmp/out-$name
  rout=$tmp/$name.run
  run_tool "$rout" run "$cfg" --set "run.output_dir='$outdir'" --no-report --quiet
  rc=$?
  if [ "$rc" -ne 2 ]; then
    why="$why run exited $rc, expected 2;"
  elif ! grep -qF -- "$expect" "$rout"; then
    why="$why run output lacks '$expect';"
  fi
  if [ -e "$outdir" ] && [ -n "$(ls -A "$outdir" 2>/dev/null)" ]; then
    why="$why run wrote into $outdir;"
  fi
  rm -rf "$outdir"

  [ -n "$why" ] && why="${why%;}$new_rule"
  report "$name" "$why" "$vout" "$rout"
done

# A catalogue that found nothing proves nothing.
[ "$controls" -ge 1 ] || { echo "FAIL no controls/*.toml in $here"; failed=$((failed + 1)); }
[ "$cases" -ge 1 ] || { echo "FAIL no configs/*.toml in $here"; failed=$((failed + 1)); }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
