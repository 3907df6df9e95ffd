#!/usr/bin/env bash
# The SLURM batch scripts for real, across two nodes (tests/slurm_test.sh requeue | array): a namespace cluster (tests/cluster/) of two
# nodes, each with its own host name, address and /tmp, runs a private SLURM (munged, slurmctld on
# node1, one slurmd per node). slurm/sweep.sbatch runs with -N 2 (CPU variant: 2 ranks a node via
# srun --mpi=pmix; 2 seeds x (6 λ + 2 baselines)), its run directory in node1's /tmp, which node2
# cannot see. SIGUSR1 mid-run, as SLURM sends it ahead of the time limit, must stop the sweep
# cleanly (exit 3), requeue the job, and the requeued job must resume and finish with every trial
# run exactly once. The sweep runs with --hold-while: while a gate file exists, each long task
# waits at its epoch boundaries, so the signal always finds unfinished tasks with checkpoints,
# however fast training gets. The gate goes once the sweep has stopped, before the requeue: the
# requeued job must continue those tasks from their checkpoints and finish.
# Exit 77 (skipped) where slurm-wlm/munge are not installed, we are not root or namespaces cannot
# be made. The cluster and SLURM are private (tests/cluster/start, tests/slurm/start-local-slurm)
# and are stopped, by pid, however the test ends.
#
# `array`: slurm/sweep-array.sbatch as a 3-task job array (one node, one rank per task, the run
# directories on storage both nodes see), `anchorsweep merge` of the three shards, and the merged
# results.csv must equal one unsharded run's in every metric column; report and --resume work on
# the merged directory.
set -euo pipefail
mode="${1:-requeue}"
src="${ANCHORSWEEP_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}"
bin="${ANCHORSWEEP_BIN:-$src/build/anchorsweep}"
if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
  echo "skipped: needs root and Debian's slurm-wlm + munge"
  exit 77
fi
rc=0
cluster=$("$src/tests/cluster/start" 2 --owner $$) || rc=$?
if [ $rc -eq 77 ]; then echo "skipped: the namespace cluster cannot be made here (reason above)"; exit 77; fi
[ $rc -eq 0 ] || { echo "FAIL: tests/cluster/start failed ($rc)"; exit 1; }
slurm=
cleanup() {
  [ -n "$slurm" ] && { on node1 scancel --full "${job:-0}" 2> /dev/null || true; "$src/tests/slurm/stop-local-slurm" "$slurm"; }
  "$src/tests/cluster/stop" "$cluster"
}
trap cleanup EXIT
on() { local node=$1; shift; "$src/tests/cluster/on" "$cluster" "$node" "$@"; }
# A private SLURM in a folder of the cluster: its own slurm.conf, munge key and socket, ports and
# daemons, stopped by pid on every exit; /etc/slurm, /etc/munge and any running SLURM are left alone.
slurm=$("$src/tests/slurm/start-local-slurm" --cluster "$cluster")
export SLURM_CONF="$slurm/slurm.conf"
requeue_test() {
# (not indented: the python -c programs below must start at column 0)
out="$cluster/shared"
# The CPU variant of the script, as slurm/README.md says: no GPUs, one core per rank; two nodes.
sed -e '/--gpus-per-node/d' -e 's/--nodes=1/--nodes=2/' -e 's/--ntasks-per-node=4/--ntasks-per-node=2/' -e 's/--cpus-per-task=8/--cpus-per-task=1/' \
  "$src/slurm/sweep.sbatch" > "$out/sweep.sbatch"
cd "$out"
gate="$out/hold"   # on storage both nodes see
echo "held by slurm_test" > "$gate"
job=$(ANCHORSWEEP_BIN="$bin" on node1 sbatch --parsable --job-name=astest --output="$out/job.out" \
  "$out/sweep.sbatch" "$src/tests/tiny.toml" --set 'run.output_dir="/tmp/runs"' --set finetune.fuse=1 --set "sweep.lambdas=[0,0.001,0.01,0.1,1,10]" \
  --set pretrain.epochs=6 --hold-while "$gate" --no-report)
run="$cluster/nodes/node1/tmp/runs/astest-$job"   # node1's /tmp, seen from outside
fail() { echo "FAIL: $*"; on node1 scontrol show job "$job" || true; cat "$out/job.out" || true; exit 1; }
state() { on node1 scontrol show job "$job" -o 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
checkpoints() { local n; n=$(grep -c '"type":"checkpoint"' "$run/results.jsonl" 2> /dev/null || true); echo "${n:-0}"; }

for _ in $(seq 900); do [ "$(checkpoints)" -ge 1 ] && break; sleep 0.1; done
[ "$(checkpoints)" -ge 1 ] || fail "no pretraining epoch finished within 90 s"
t0=$(date +%s.%N)
on node1 scancel --signal=USR1 "$job"          # what --signal=USR1@600 does ahead of the time limit
for _ in $(seq 1200); do grep -q "stopped ahead of the time limit" "$out/job.out" 2> /dev/null && break; sleep 0.05; done
t1=$(date +%s.%N)
grep -q "stopped ahead of the time limit" "$out/job.out" || fail "the sweep did not stop within 60 s of SIGUSR1"
rm -f "$gate"   # before `scontrol requeue` even runs: the requeued job trains freely
stop_s=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
echo "SIGUSR1 to the sweep's exit under srun: $stop_s s"
# SLURM holds a requeued job cred_expire + 1 s before it may start again (the test cluster's
# slurm.conf sets cred_expire=15, the default is 120): wait up to 420 s.
for _ in $(seq 2100); do
  case "$(state)" in
    COMPLETED) break ;;
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) fail "the job ended $(state)" ;;
  esac
  sleep 0.2
done
[ "$(state)" = COMPLETED ] || fail "job did not complete after the requeue (state $(state))"

grep -q "stopped ahead of the time limit; requeueing" "$out/job.out" || fail "the sweep did not stop and requeue"
grep -q "(restart 1)" "$out/job.out" || fail "the job did not start a second time"
read -r total unique ok < <(python3 -c "
import json
t = [json.loads(l) for l in open('$run/results.jsonl') if '\"trial\"' in l]
t = [x for x in t if x['type'] == 'trial']
print(len(t), len({x['id'] for x in t}), sum(x['status'] == 'ok' for x in t))")
ranks=$(python3 -c "import json; print(json.load(open('$run/run.json'))['ranks'])")
echo "journal: $total trial lines, $unique distinct trials, $ok ok; ranks: $ranks"
[ "$unique" -eq 16 ] || fail "expected 16 distinct trials, got $unique"
[ "$total" -eq 16 ] || fail "a finished trial ran again ($total lines for $unique trials)"
[ "$ok" -eq 16 ] || fail "only $ok of 16 trials ok"
[ "$ranks" -eq 4 ] || fail "expected 4 ranks from srun, got $ranks"
hosts=$(python3 -c "
import json
r = [json.loads(l) for l in open('$run/results.jsonl')]
print(' '.join(sorted({x['host'] for x in r if x['type'] in ('trial', 'pretrain')})))")
echo "hosts in the journal: $hosts"
[ "$hosts" = "node1 node2" ] || fail "expected records from node1 and node2, got '$hosts'"
[ ! -e "$cluster/nodes/node2/tmp/runs" ] || fail "node2 has a run directory"
resumed=$(python3 -c "
import json
r=[json.loads(l) for l in open('$run/results.jsonl')]
print(sum(x.get('resumed_from_epoch', 0) for x in r if x['type'] in ('pretrain', 'trial')))")
echo "epochs continued from checkpoints after the requeue: $resumed"
[ "$resumed" -ge 1 ] || fail "the requeued job did not continue any task from its epoch checkpoint"
python3 -c "import sys; sys.exit(0 if $stop_s < 20 else 1)" || fail "the stop took $stop_s s, more than an epoch"
echo "slurm test: 1 passed, 0 failed"
}

array_test() {
  local out="$cluster/shared" runs="$cluster/shared/runs"
  sed -e '/--gpus-per-node/d' -e 's/--array=1-4/--array=1-3/' -e 's/--ntasks-per-node=4/--ntasks-per-node=1/' \
    -e 's/--cpus-per-task=8/--cpus-per-task=1/' "$src/slurm/sweep-array.sbatch" > "$out/sweep-array.sbatch"
  cd "$out"
  local args=(--set "run.output_dir=\"$runs\"" --set "sweep.lambdas=[0,0.01,0.1,1]" --set "run.seeds=[1,2]" --no-report)
  job=$(ANCHORSWEEP_BIN="$bin" on node1 sbatch --parsable --job-name=astest-array --output="$out/array-%a.out" \
    "$out/sweep-array.sbatch" "$src/tests/tiny.toml" "${args[@]}")
  fail() { echo "FAIL: $*"; on node1 squeue || true; cat "$out"/array-*.out || true; exit 1; }
  for _ in $(seq 1200); do [ -z "$(on node1 squeue -h -j "$job" 2> /dev/null)" ] && break; sleep 0.25; done
  [ -z "$(on node1 squeue -h -j "$job")" ] || fail "the array did not finish within 300 s"
  local shards=("$runs"/tiny-shard{1,2,3}of3)
  for d in "${shards[@]}"; do
    python3 -c "import json, sys; sys.exit(0 if json.load(open('$d/run.json'))['finished'] else 1)" 2> /dev/null ||
      fail "$d did not finish"
  done
  echo "array tasks ran on: $(cat "$out"/array-*.out | sed -n 's/.* on \(node[0-9]*\): shard.*/\1/p' | sort | uniq -c | xargs)"
  "$bin" merge "$runs/tiny" "${shards[@]}" | tee "$out/merge.out"
  grep -q "merged 3 of 3 shard(s)" "$out/merge.out" || fail "merge did not take the three shards"
  ! grep -q "WARNING" "$out/merge.out" || fail "merge reported gaps or missing shards"
  # One unsharded run of the same config, as the reference.
  "$bin" run "$src/tests/tiny.toml" "${args[@]}" --set "run.output_dir=\"$out/ref\"" --set run.threads=1 --quiet
  python3 - "$runs/tiny/results.csv" "$out/ref/tiny/results.csv" << 'PY' || fail "merged results differ from the unsharded run"
import csv, sys
def rows(p):
    return {(r["trial"], r["split"]): {k: v for k, v in r.items() if k not in ("host", "rank", "device", "wall_s")}
            for r in csv.DictReader(open(p))}
a, b = rows(sys.argv[1]), rows(sys.argv[2])
print(f"merged {len(a)} rows, unsharded {len(b)} rows, identical: {a == b}")
sys.exit(0 if a == b and len(a) == 2 * 6 * 4 else 1)
PY
  # --resume on the merged directory with the unsharded config: nothing left to run.
  "$bin" run "$src/tests/tiny.toml" "${args[@]}" --set run.threads=1 --resume > "$out/resume.out" 2>&1 ||
    { cat "$out/resume.out"; fail "--resume on the merged directory failed"; }
  grep -q "12 trials already done, 0 to run" "$out/resume.out" ||
    { cat "$out/resume.out"; fail "--resume on the merged directory found work left"; }
  [ -f "$runs/tiny/report.md" ] || fail "merge wrote no report"
  echo "slurm array test: 1 passed, 0 failed"
}

# `lost`: srun without --kill-on-bad-exit (this slurm.conf leaves KillOnBadExit at 0, as many
# clusters do). One rank of node2 is SIGSTOPped mid-task (a hung rank: no launcher can see it),
# then, in a second sweep, SIGKILLed. Each step must end with a failing exit within
# run.rank_timeout_s plus a few seconds, whoever ends it: the stopped rank only rank 0's heartbeat
# watch can find (it names rank, host and task); the killed one Open MPI's PMIx layer here sees die
# and aborts the step itself within about a second (where it does not, the watch does, checked
# then). srun --resume then completes each sweep.
lost_test() {
  local sig
  for sig in STOP KILL; do lost_once $sig; done
  echo "slurm lost test: 1 passed, 0 failed"
}

lost_once() {  # lost_once STOP|KILL
  local sig=$1 out="$cluster/shared" timeout_s=5
  cd "$out"
  local journal="$cluster/nodes/node1/tmp/lost-$sig/tiny/results.jsonl"
  local args=(run "$src/tests/tiny.toml" --set "run.rank_timeout_s=$timeout_s" --set "run.output_dir=\"/tmp/lost-$sig\"" --no-report --quiet)
  fail() { echo "FAIL: $*"; cat "$out/lost.log" || true; exit 1; }
  echo "held by slurm_test" > "$cluster/nodes/node2/tmp/hold"   # node2's ranks wait at their epoch boundaries
  timeout 120 "$src/tests/cluster/on" "$cluster" node1 srun -N 2 --ntasks-per-node=2 --mpi=pmix "$bin" "${args[@]}" \
    --hold-while /tmp/hold > "$out/lost.log" 2>&1 &
  local step=$!
  local pattern='"rank":[23],"task":"[a-z]+-s[0-9]+","type":"checkpoint"'
  for _ in $(seq 1200); do grep -qE "$pattern" "$journal" 2> /dev/null && break; sleep 0.05; done
  local line rank task victim=
  line=$(grep -oE "$pattern" "$journal" | head -1) || fail "no checkpoint from node2 within 60 s"
  rank=$(echo "$line" | sed -E 's/"rank":([0-9]+).*/\1/')
  task=$(echo "$line" | sed -E 's/.*"task":"([^"]+)".*/\1/')
  for p in $("$src/tests/cluster/pids" "$cluster" node2 anchorsweep); do
    tr '\0' '\n' < /proc/$p/environ | grep -qxE "(PMIX_RANK|SLURM_PROCID)=$rank" && victim=$p
  done
  [ -n "$victim" ] || fail "no process of rank $rank on node2"
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  kill -$sig "$victim"
  wait $step || rc=$?
  t1=$(date +%s.%N)
  local secs
  secs=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
  echo "SIG$sig to rank $rank (node2) in $task under srun without --kill-on-bad-exit: the step ended $secs s later, exit $rc"
  { grep "^anchorsweep:" "$out/lost.log" || true; } | sed 's/^/  | /'
  [ $rc -ne 124 ] || fail "the step hung after rank $rank died"
  [ $rc -ne 0 ] || fail "srun exited 0 after a lost rank"
  python3 -c "import sys; sys.exit(0 if $secs < $timeout_s + 10 else 1)" || fail "the step outlived the timeout by over 10 s"
  if grep -q "is lost" "$out/lost.log" || [ $sig = STOP ]; then  # a stopped task: only the watch can tell
    grep -q "rank $rank (host node2) is lost: no message from it" "$out/lost.log" || fail "the message does not name rank $rank on node2"
    grep -q "Its task $task is journaled as failed (lost rank)" "$out/lost.log" || fail "the message does not name task $task"
  else
    echo "  (the launcher ended the step itself before run.rank_timeout_s ran out)"
  fi
  [ -z "$("$src/tests/cluster/pids" "$cluster" node2 anchorsweep)" ] || fail "ranks of node2 outlived the step"
  rm -f "$cluster/nodes/node2/tmp/hold"
  "$src/tests/cluster/on" "$cluster" node1 srun -N 2 --ntasks-per-node=2 --mpi=pmix "$bin" "${args[@]}" --resume > "$out/resume.log" 2>&1 ||
    { cat "$out/resume.log"; fail "srun --resume failed"; }
  python3 "$src/tests/all_ok.py" "$journal" 10 2 "srun --resume" || fail "the resumed run is wrong"
}

case "$mode" in
  requeue) requeue_test ;;
  array) array_test ;;
  lost) lost_test ;;
  *) echo "usage: tests/slurm_test.sh [requeue|array|lost]"; exit 2 ;;
esac
