#!/usr/bin/env bash
# The SLURM batch script for real: a one-node SLURM (munge + slurmctld + slurmd on this machine)
# runs slurm/sweep.sbatch (CPU variant: 3 ranks via srun --mpi=pmix; 2 seeds x (6 λ + 2 baselines)); SIGUSR1 mid-run, as SLURM
# sends it ahead of the time limit, must stop the sweep cleanly (exit 3), requeue the job, and the
# requeued job must resume and finish with every trial run exactly once. The signal lands inside
# a pretraining epoch: the sweep must stop at that epoch's end (timed) and the requeued job must
# continue the pretraining from its checkpoint.
# Exit 77 (skipped) where slurm-wlm/munge are not installed or we are not root. The cluster is
# private (tests/slurm/start-local-slurm) and is stopped, by pid, however the test ends.
set -euo pipefail
src="${ANCHORSWEEP_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}"
bin="${ANCHORSWEEP_BIN:-$src/build/anchorsweep}"
if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
  echo "skipped: needs root and Debian's slurm-wlm + munge"
  exit 77
fi
# A private cluster in a temporary folder: its own slurm.conf, munge key and socket, ports and
# daemons, stopped by pid on every exit; /etc/slurm, /etc/munge and any running SLURM are left alone.
cluster=$("$src/tests/slurm/start-local-slurm")
export SLURM_CONF="$cluster/slurm.conf"
out=$(mktemp -d /tmp/anchorsweep-slurmtest.XXXXXX)
cleanup() {
  scancel --full "${job:-0}" 2> /dev/null || true
  "$src/tests/slurm/stop-local-slurm" "$cluster"
  rm -rf "$out"
}
trap cleanup EXIT
# The CPU variant of the script, as slurm/README.md says: no GPUs, one core per rank.
sed -e '/--gpus-per-node/d' -e 's/--ntasks-per-node=4/--ntasks-per-node=3/' -e 's/--cpus-per-task=8/--cpus-per-task=1/' \
  "$src/slurm/sweep.sbatch" > "$out/sweep.sbatch"
cd "$out"
job=$(ANCHORSWEEP_BIN="$bin" sbatch --parsable --job-name=astest --output="$out/job.out" \
  "$out/sweep.sbatch" "$src/tests/tiny.toml" --set "run.output_dir=\"$out\"" --set finetune.fuse=1 --set "sweep.lambdas=[0,0.001,0.01,0.1,1,10]" \
  --set data.synthetic.a_train=2500 --set pretrain.epochs=6 --no-report)
run="$out/astest-$job"
fail() { echo "FAIL: $*"; scontrol show job "$job" || true; cat "$out/job.out" || true; scancel "$job" 2> /dev/null || true; exit 1; }
state() { scontrol show job "$job" -o 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
checkpoints() { local n; n=$(grep -c '"type":"checkpoint"' "$run/results.jsonl" 2> /dev/null || true); echo "${n:-0}"; }

for _ in $(seq 900); do [ "$(checkpoints)" -ge 1 ] && break; sleep 0.1; done
[ "$(checkpoints)" -ge 1 ] || fail "no pretraining epoch finished within 90 s"
sleep 0.3
t0=$(date +%s.%N)
scancel --signal=USR1 "$job"          # what --signal=USR1@600 does ahead of the time limit
for _ in $(seq 1200); do grep -q "stopped ahead of the time limit" "$out/job.out" 2> /dev/null && break; sleep 0.05; done
t1=$(date +%s.%N)
stop_s=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
echo "SIGUSR1 to the sweep's exit under srun: $stop_s s"
# SLURM holds a requeued job about 120 s before it may start again: wait up to 420 s.
for _ in $(seq 2100); do [ "$(state)" = COMPLETED ] && break; sleep 0.2; done
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
resumed=$(python3 -c "
import json
r=[json.loads(l) for l in open('$run/results.jsonl')]
print(sum(x.get('resumed_from_epoch', 0) for x in r if x['type'] in ('pretrain', 'trial')))")
echo "epochs continued from checkpoints after the requeue: $resumed"
[ "$resumed" -ge 1 ] || fail "the requeued job did not continue any task from its epoch checkpoint"
python3 -c "import sys; sys.exit(0 if $stop_s < 20 else 1)" || fail "the stop took $stop_s s, more than an epoch"
echo "slurm test: 1 passed, 0 failed"
