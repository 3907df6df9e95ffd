#!/usr/bin/env bash
# A rank that stops answering mid-sweep, on one machine (tests/cluster_test.sh lost does it across
# two nodes with SIGKILL):
#   1. under plain mpirun, SIGSTOP a worker mid-task: rank 0 notices within run.rank_timeout_s,
#      names rank, host and task, journals the task as failed (lost rank) and ends the job with
#      exit 1; --resume then completes every trial;
#   2. under mpirun with recovery enabled (it does not end a job whose rank dies, as srun without
#      --kill-on-bad-exit does not), SIGKILL rank 0: every worker notices within the timeout and
#      exits, naming rank 0, instead of waiting for it forever.
# The workers are held at their epoch boundaries by a gate file (--hold-while) so that the signal
# always finds them mid-task, however fast training gets.
set -euo pipefail
src="${ANCHORSWEEP_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}"
bin="${ANCHORSWEEP_BIN:-$src/build/anchorsweep}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
work=$(mktemp -d)
job=
cleanup() { [ -n "$job" ] && kill -9 $job 2> /dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
timeout_s=3
tiny=(run "$src/tests/tiny.toml" --set run.rank_timeout_s=$timeout_s --set "run.output_dir=\"$work/runs\"" --no-report)
journal="$work/runs/tiny/results.jsonl"
# This test's processes: their command line names its own output folder (other tests, run at the
# same time, start the same binary on the same config).
mine() { pgrep -f "run.output_dir=\"$work/runs\"" || true; }
# The pid of the given rank of the running job (its environment names the rank).
pid_of_rank() {
  for p in $(mine); do
    tr '\0' '\n' < /proc/$p/environ 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && { echo "$p"; return; }
  done
}
wait_for_checkpoint_of_rank() {  # wait_for_checkpoint_of_rank R: prints the task
  local pattern="\"rank\":$1,\"task\":\"[a-z]+-s[0-9]+\",\"type\":\"checkpoint\""
  for _ in $(seq 1200); do grep -qE "$pattern" "$journal" 2> /dev/null && break; sleep 0.05; done
  grep -oE "$pattern" "$journal" | head -1 | sed -E 's/.*"task":"([^"]+)".*/\1/'
}
seconds_since() { python3 -c "import time; print(f'{time.time() - $1:.1f}')"; }

# 1. SIGSTOP rank 1 under plain mpirun.
touch gate
mpirun -np 3 --oversubscribe "$bin" "${tiny[@]}" --quiet --hold-while "$work/gate" > stop.log 2>&1 &
job=$!
task=$(wait_for_checkpoint_of_rank 1)
[ -n "$task" ] || fail "no checkpoint from rank 1 within 60 s: $(cat stop.log)"
victim=$(pid_of_rank 1)
[ -n "$victim" ] || fail "no process of rank 1"
t0=$(date +%s.%N)
kill -STOP "$victim"
rc=0
for _ in $(seq 600); do kill -0 $job 2> /dev/null || break; sleep 0.05; done
kill -0 $job 2> /dev/null && fail "the job still runs 30 s after rank 1 stopped: $(cat stop.log)"
wait $job || rc=$?
job=
secs=$(seconds_since "$t0")
echo "SIGSTOPped rank 1 in $task: the job ended $secs s later with exit $rc (run.rank_timeout_s = $timeout_s):"
grep "^anchorsweep:" stop.log | sed 's/^/  | /'
[ $rc -eq 1 ] || fail "expected exit 1, got $rc"
grep -q "rank 1 (host $(hostname)) is lost: no message from it for" stop.log || fail "the message does not name rank 1 and its host"
grep -q "Its task $task is journaled as failed (lost rank)" stop.log || fail "the message does not name task $task"
! grep -qE "rank [02] \(host [^)]*\) is lost|rank [02] is lost" stop.log || fail "a live rank was taken for lost"
python3 -c "import sys; sys.exit(0 if $secs < $timeout_s + 10 else 1)" || fail "the job outlived the timeout by over 10 s"
grep -q "\"error\":\"lost rank 1 ($(hostname)): no message from it" "$journal" || fail "no failed (lost rank) line in the journal"
status=$("$bin" status "$work/runs/tiny") || fail "status failed: $status"
echo "  status: $(echo "$status" | head -1)"
echo "$status" | head -1 | grep -q "stopped (rank 0 ended the job: rank 1 (host $(hostname)) is lost" || fail "status does not say why the job ended"
rm -f gate
mpirun -np 2 --oversubscribe "$bin" "${tiny[@]}" --quiet --resume > resume.log 2>&1 || fail "--resume failed: $(cat resume.log)"
python3 "$src/tests/all_ok.py" "$journal" 10 2 || fail "the resumed run is wrong"

# 2. SIGKILL rank 0 under a launcher that does not end the job.
rm -rf runs
touch gate
mpirun --mca orte_enable_recovery 1 -np 3 --oversubscribe "$bin" "${tiny[@]}" --quiet --hold-while "$work/gate" > root.log 2>&1 &
job=$!
[ -n "$(wait_for_checkpoint_of_rank 1)" ] || fail "no checkpoint from rank 1 within 60 s: $(cat root.log)"
root=$(pid_of_rank 0)
[ -n "$root" ] || fail "no process of rank 0"
t0=$(date +%s.%N)
kill -9 "$root"
for _ in $(seq 600); do kill -0 $job 2> /dev/null || break; sleep 0.05; done
kill -0 $job 2> /dev/null && fail "the workers still run 30 s after rank 0 died: $(cat root.log)"
wait $job || true
job=
secs=$(seconds_since "$t0")
echo "SIGKILLed rank 0: the job ended $secs s later:"
grep "^anchorsweep:" root.log | sed 's/^/  | /'
for r in 1 2; do
  grep -q "rank $r (host $(hostname)): rank 0 (host $(hostname)) is lost: no message from it" root.log ||
    fail "rank $r did not say that rank 0 is lost"
done
python3 -c "import sys; sys.exit(0 if $secs < $timeout_s + 10 else 1)" || fail "the workers outlived the timeout by over 10 s"
[ -z "$(mine)" ] || fail "ranks outlived the job: $(mine)"
echo "lost rank test: passed"
