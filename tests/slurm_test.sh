#!/usr/bin/env bash
# The SLURM batch script for real: a one-node SLURM (munge + slurmctld + slurmd on this machine)
# runs slurm/sweep.sbatch (CPU variant: 3 ranks via srun --mpi=pmix; 2 seeds x (6 λ + 2 baselines)); SIGUSR1 mid-run, as SLURM
# sends it ahead of the time limit, must stop the sweep cleanly (exit 3), requeue the job, and the
# requeued job must resume and finish with every trial run exactly once.
# Exit 77 (skipped) where slurm-wlm/munge are not installed or we are not root.
set -euo pipefail
src="${ANCHORSWEEP_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}"
bin="${ANCHORSWEEP_BIN:-$src/build/anchorsweep}"
if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
  echo "skipped: needs root and Debian's slurm-wlm + munge"
  exit 77
fi
"$src/tests/slurm/start-local-slurm"

out=$(mktemp -d /tmp/anchorsweep-slurm.XXXXXX)
# The CPU variant of the script, as slurm/README.md says: no GPUs, one core per rank.
sed -e '/--gpus-per-node/d' -e 's/--ntasks-per-node=4/--ntasks-per-node=3/' -e 's/--cpus-per-task=8/--cpus-per-task=1/' \
  "$src/slurm/sweep.sbatch" > "$out/sweep.sbatch"
cd "$out"
job=$(ANCHORSWEEP_BIN="$bin" sbatch --parsable --overcommit --job-name=astest --output="$out/job.out" \
  "$out/sweep.sbatch" "$src/tests/tiny.toml" --set "run.output_dir=\"$out\"" --set finetune.fuse=1 --set "sweep.lambdas=[0,0.001,0.01,0.1,1,10]" \
  --delay-ms 600 --no-report)
run="$out/astest-$job"
fail() { echo "FAIL: $*"; scontrol show job "$job" || true; cat "$out/job.out" || true; scancel "$job" 2> /dev/null || true; exit 1; }
state() { scontrol show job "$job" -o 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
trials() { local n; n=$(grep -c '"type":"trial"' "$run/results.jsonl" 2> /dev/null || true); echo "${n:-0}"; }

for _ in $(seq 600); do [ "$(trials)" -ge 2 ] && break; sleep 0.2; done
[ "$(trials)" -ge 2 ] || fail "no trial finished within 120 s"
scancel --signal=USR1 "$job"          # what --signal=USR1@600 does ahead of the time limit
for _ in $(seq 900); do [ "$(state)" = COMPLETED ] && break; sleep 0.2; done
[ "$(state)" = COMPLETED ] || fail "job did not complete after the requeue (state $(state))"

grep -q "stopped ahead of the time limit; requeueing" "$out/job.out" || fail "the sweep did not stop and requeue"
grep -q "(restart 1)" "$out/job.out" || fail "the job did not start a second time"
total=$(grep -c '"type":"trial"' "$run/results.jsonl")
unique=$(grep -o '"id":"[^"]*"' "$run/results.jsonl" | sort -u | wc -l)
ok=$(grep -c '"status":"ok"' "$run/results.jsonl")
ranks=$(python3 -c "import json; print(json.load(open('$run/run.json'))['ranks'])")
echo "journal: $total trial lines, $unique distinct trials, $ok ok; ranks: $ranks"
[ "$unique" -eq 16 ] || fail "expected 16 distinct trials, got $unique"
[ "$total" -eq 16 ] || fail "a finished trial ran again ($total lines for $unique trials)"
[ "$ranks" -eq 3 ] || fail "expected 3 ranks from srun, got $ranks"
rm -rf "$out"
echo "slurm test: 1 passed, 0 failed"
