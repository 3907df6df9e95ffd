#!/usr/bin/env bash
# Several nodes for real: a two-node namespace cluster on this machine (tests/cluster/), each node
# with its own host name, address and /tmp, and mpirun starting ranks on the second node through
# the cluster's rsh agent. The run directory lies in node1's /tmp, which node2 cannot see, so
# encoders, checkpoints and results can only travel over MPI (TCP between the nodes).
#
#   cluster_test.sh across   the demo (smaller: 3 seeds, 6 pretraining epochs) on 2 nodes x 2 ranks
#                            equals the one-node run; every record names the host it ran on and
#                            both hosts appear; the run directory exists on the head node only;
#                            each node's ranks have local ranks 0 and 1 and the threads asked for.
#   cluster_test.sh faults   SIGKILL every rank of node2 mid-run, then --resume on both nodes
#                            completes with every trial once and the one-node run's results; and
#                            a data file missing on node2 only ends the job at start-up, fast,
#                            with a message naming host and file, and nothing written.
#   cluster_test.sh lost     under a launcher that does not end the job when a rank dies (mpirun
#                            with orte_enable_recovery, as srun without --kill-on-bad-exit), SIGKILL
#                            one rank of node2 mid-task: rank 0 notices within run.rank_timeout_s,
#                            names rank, host and task, journals the task as failed (lost rank) and
#                            ends the job; --resume completes the sweep.
#
# Exit 77 (skipped, with the reason) where the cluster cannot be made: not root, or no namespaces.
set -euo pipefail
src="${ANCHORSWEEP_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}"
bin="${ANCHORSWEEP_BIN:-$src/build/anchorsweep}"
mode=${1:?usage: cluster_test.sh across|faults|lost}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1

rc=0
cluster=$("$src/tests/cluster/start" 2 --owner $$) || rc=$?
if [ $rc -eq 77 ]; then echo "skipped: the namespace cluster cannot be made here (reason above)"; exit 77; fi
[ $rc -eq 0 ] || { echo "FAIL: tests/cluster/start failed ($rc)"; exit 1; }
trap '"$src/tests/cluster/stop" "$cluster"' EXIT
cd "$cluster/shared"   # a folder every node sees (each node's /tmp is its own)
on() { local node=$1; shift; "$src/tests/cluster/on" "$cluster" "$node" "$@"; }
head_tmp="$cluster/nodes/node1/tmp"   # node1's /tmp, seen from outside
fail() { echo "FAIL: $*"; exit 1; }

# The demo, made smaller for the suite; run.threads fixed so that results do not depend on where
# a task ran.
demo=(run "$src/configs/demo.toml" --set 'run.seeds=[1,2,3]' --set data.synthetic.a_train=2000 --set pretrain.epochs=6
      --set finetune.epochs=10 --set run.threads=1 --quiet --no-report)
one_node() {  # one_node OUT: the demo on node1 alone, 2 ranks
  on node1 timeout 300 mpirun -np 2 "$bin" "${demo[@]}" --set "run.output_dir=\"/tmp/$1\""
}
two_nodes() {  # two_nodes ARGS...: 2 ranks on each node (the host file's slots), from node1 (CLUSTER/mpirun)
  timeout 300 "$cluster/mpirun" -np 4 "$bin" "$@"
}

# compare.py REF RUN: the metric columns of results.csv, row by row (host, rank and wall time left out).
cat > compare.py << 'PY'
import csv, sys
def rows(d):
    with open(d + "/results.csv") as f:
        return sorted(tuple(r[k] for k in ("trial", "seed", "kind", "lambda", "init", "split", "micro_p", "micro_r",
                                           "micro_f1", "macro_f1", "accuracy", "best_epoch", "status"))
                      for r in csv.DictReader(f))
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert len(a) == 84, f"{len(a)} rows in the reference; the demo has 21 trials x 4 splits"
if a != b:
    diff = [(x, y) for x, y in zip(a, b) if x != y][:3]
    sys.exit(f"results differ: {len(a)} vs {len(b)} rows; first differences {diff}")
print(f"results.csv: {len(a)} rows equal to the one-node run's")
PY

case $mode in
across)
  t0=$(date +%s.%N)
  one_node one || fail "the one-node run failed"
  t1=$(date +%s.%N)
  two_nodes "${demo[@]}" --set 'run.output_dir="/tmp/two"' || fail "the two-node run failed"
  t2=$(date +%s.%N)
  python3 -c "print(f'one node x 2 ranks: {$t1 - $t0:.1f} s; 2 nodes x 2 ranks: {$t2 - $t1:.1f} s (2 cores in all)')"
  python3 compare.py "$head_tmp/one/demo" "$head_tmp/two/demo" || fail "2 nodes gave other results than 1"
  python3 - "$head_tmp/two/demo" << 'PY' || fail "hosts or placement wrong"
import json, sys
d = sys.argv[1]
run = json.load(open(d + "/run.json"))
place = run["rank_placement"]
print("rank placement:", [(p["rank"], p["host"], p["local_rank"], p["local_size"], p["threads"]) for p in place])
want = [(0, "node1", 0), (1, "node1", 1), (2, "node2", 0), (3, "node2", 1)]
got = [(p["rank"], p["host"], p["local_rank"]) for p in place]
assert got == want, f"ranks, hosts and local ranks {got}, expected {want}"
assert all(p["local_size"] == 2 and p["threads"] == 1 for p in place), "each node has 2 ranks of 1 thread"
assert run["hosts"] == ["node1", "node1", "node2", "node2"], run["hosts"]
recs = [json.loads(l) for l in open(d + "/results.jsonl")]
done = [r for r in recs if r["type"] in ("trial", "pretrain")]
for r in done:
    assert r["host"] == place[r["rank"]]["host"], f"{r.get('id', r.get('seed'))}: host {r['host']} but rank {r['rank']} is on {place[r['rank']]['host']}"
    assert r["threads"] == 1, f"{r.get('id')}: {r['threads']} threads"
hosts = {}
for r in done:
    hosts[r["host"]] = hosts.get(r["host"], 0) + 1
print("records per host:", hosts)
assert set(hosts) == {"node1", "node2"}, f"both hosts must appear, got {sorted(hosts)}"
# The run directory lies in node1's private /tmp: rank 1 (node1) reads encoders from it, node2's
# ranks get their bytes from rank 0 (run.encoder_transfer = "auto").
assert run["encoder_transfer"].startswith("1 of 3 other ranks read"), run["encoder_transfer"]
print("encoder transfer:", run["encoder_transfer"])
t = run["rank0_traffic"]
print(f"rank 0 sent {t['sent_bytes']} bytes in {t['sent_messages']} messages, received {t['received_bytes']} bytes; "
      f"peak RSS {run['rank0_peak_rss_mb']:.0f} MiB")
PY
  # Threads chosen per node (run.threads = 0): 2 ranks on node1 share its CPUs, node2's one rank
  # has them to itself.
  timeout 300 "$cluster/mpirun" -np 3 --bind-to none \
    "$bin" run "$src/tests/tiny.toml" --set run.threads=0 --set 'run.output_dir="/tmp/auto"' --quiet --no-report ||
    fail "the 3-rank run with automatic threads failed"
  python3 - "$head_tmp/auto/tiny/run.json" << 'PY' || fail "threads per node wrong"
import json, os, sys
place = json.load(open(sys.argv[1]))["rank_placement"]
cpus = len(os.sched_getaffinity(0))  # (nproc would answer OMP_NUM_THREADS, which the suite sets to 1)
got = [(p["host"], p["local_rank"], p["local_size"], p["threads"]) for p in place]
want = [("node1", 0, 2, max(1, cpus // 2)), ("node1", 1, 2, max(1, cpus // 2)), ("node2", 0, 1, cpus)]
print("automatic threads:", got)
assert got == want, f"expected {want}"
PY
  [ -f "$head_tmp/two/demo/results.jsonl" ] || fail "no run directory on the head node"
  [ ! -e "$cluster/nodes/node2/tmp/two" ] || fail "node2 has a run directory: $(ls -R "$cluster/nodes/node2/tmp/two" | head)"
  [ -z "$(ls "$cluster/shared" | grep -v compare.py)" ] || fail "something was written to the shared folder: $(ls "$cluster/shared")"
  echo "the run directory exists on node1 only"
  ;;
faults)
  one_node ref || fail "the one-node reference run failed"
  # Every rank of node2 SIGKILLed once a trial is journaled and node2 has checkpointed an epoch
  # (so results and checkpoints exist, and node2 is mid-task). node2's ranks are held at their
  # epoch boundaries by a gate file in node2's own /tmp (--hold-while; node1 has no such file and
  # trains on), so the kill always finds node2 mid-task, however fast training gets.
  journal="$head_tmp/killed/demo/results.jsonl"
  echo "held by cluster_test" > "$cluster/nodes/node2/tmp/hold"
  two_nodes "${demo[@]}" --set 'run.output_dir="/tmp/killed"' --hold-while /tmp/hold > killed.log 2>&1 &
  job=$!
  for _ in $(seq 1200); do
    grep -qE '"rank":[23],"task":"[a-z]+-s[0-9]+","type":"checkpoint"' "$journal" 2> /dev/null &&
      grep -q '"type":"trial"' "$journal" && break
    sleep 0.05
  done
  grep -qE '"rank":[23],"task":"[a-z]+-s[0-9]+","type":"checkpoint"' "$journal" 2> /dev/null && grep -q '"type":"trial"' "$journal" ||
    fail "no trial, or no checkpoint from node2, journaled within 60 s: $(cat killed.log)"
  victims=$("$src/tests/cluster/pids" "$cluster" node2 anchorsweep) || fail "tests/cluster/pids failed"
  [ "$(echo "$victims" | wc -w)" -eq 2 ] || fail "expected 2 ranks on node2, found: $victims"
  t0=$(date +%s.%N)
  kill -9 $victims
  rc=0
  wait $job || rc=$?
  t1=$(date +%s.%N)
  [ $rc -ne 0 ] || fail "the job went on as if nothing had happened"
  [ $rc -ne 124 ] || fail "the job hung after node2's ranks died, until timeout ended it"
  python3 -c "import sys; sys.exit(0 if $(date +%s.%N) - $t0 < 60 else 1)" || fail "the job took over 60 s to end"
  python3 -c "print(f'killed both ranks of node2; the job ended {$t1 - $t0:.1f} s later (exit $rc)')"
  before=$(grep -c '"type":"trial"' "$journal" || true)
  echo "trials journaled before the kill: $before"
  rm -f "$cluster/nodes/node2/tmp/hold"
  two_nodes "${demo[@]}" --set 'run.output_dir="/tmp/killed"' --resume || fail "--resume after the node fault failed"
  python3 - "$head_tmp/killed/demo" "$before" << 'PY' || fail "the resumed run is wrong"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/results.jsonl") if l.strip()]
trials = [r["id"] for r in recs if r["type"] == "trial"]
assert len(trials) == 21 and len(set(trials)) == 21, f"{len(trials)} trial lines, {len(set(trials))} distinct; want 21 once each"
assert 0 < int(sys.argv[2]) < 21, "the kill landed before the first or after the last trial, not mid-run"
resumed = sum(r.get("resumed_from_epoch", 0) for r in recs if r["type"] in ("trial", "pretrain"))
print(f"after --resume: 21 trials, each once; {resumed} epoch(s) continued from checkpoints")
assert resumed >= 1, "no task continued from the checkpoint node2 had sent before it died"
PY
  python3 compare.py "$head_tmp/ref/demo" "$head_tmp/killed/demo" || fail "the resumed run's results differ"

  # The data on node1 only: node2's ranks cannot read it.
  mkdir -p "$head_tmp/data"
  cp "$src/tests/catalogue/data/good-a.json" "$src/tests/catalogue/data/good-b.json" "$head_tmp/data/"
  sed -e 's#"../data/#"/tmp/data/#' "$src/tests/catalogue/controls/good-tacred.toml" > tacred.toml
  on node1 "$bin" validate tacred.toml > /dev/null || fail "the data does not validate on node1"
  t0=$(date +%s.%N)
  rc=0
  two_nodes run tacred.toml --set 'run.output_dir="/tmp/nodata"' > nodata.log 2>&1 || rc=$?
  t1=$(date +%s.%N)
  secs=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
  echo "data missing on node2: exit $rc after $secs s:"
  sed 's/^/  | /' nodata.log | head -5
  [ $rc -eq 2 ] || fail "expected exit 2 (bad input), got $rc"
  grep -q "host node2" nodata.log || fail "the message does not name node2"
  grep -q "/tmp/data/good-a.json" nodata.log || fail "the message does not name the file"
  ! grep -q "host node1" nodata.log || fail "the message blames node1, which has the data"
  python3 -c "import sys; sys.exit(0 if $secs < 30 else 1)" || fail "the job took $secs s to fail"
  [ ! -e "$head_tmp/nodata" ] || fail "a run directory was written: $(ls -R "$head_tmp/nodata")"
  ;;
lost)
  timeout_s=5
  tiny=(run "$src/tests/tiny.toml" --set run.rank_timeout_s=$timeout_s --set 'run.output_dir="/tmp/lost"' --no-report)
  journal="$head_tmp/lost/tiny/results.jsonl"
  # node2's ranks wait at their epoch boundaries while the gate exists (node1 has none): the kill
  # finds the victim mid-task, and node2's other rank, held but alive, must not be taken for lost.
  echo "held by cluster_test" > "$cluster/nodes/node2/tmp/hold"
  timeout 90 "$cluster/mpirun" --mca orte_enable_recovery 1 -np 4 "$bin" "${tiny[@]}" --quiet --hold-while /tmp/hold \
    > lost.log 2>&1 &
  job=$!
  node2_checkpoint='"rank":[23],"task":"[a-z]+-s[0-9]+","type":"checkpoint"'
  for _ in $(seq 1200); do grep -qE "$node2_checkpoint" "$journal" 2> /dev/null && break; sleep 0.05; done
  line=$(grep -oE "$node2_checkpoint" "$journal" | head -1) || fail "no checkpoint from node2 within 60 s: $(cat lost.log)"
  rank=$(echo "$line" | sed -E 's/"rank":([0-9]+).*/\1/')
  task=$(echo "$line" | sed -E 's/.*"task":"([^"]+)".*/\1/')
  victim=
  for p in $("$src/tests/cluster/pids" "$cluster" node2 anchorsweep); do
    tr '\0' '\n' < /proc/$p/environ | grep -qx "OMPI_COMM_WORLD_RANK=$rank" && victim=$p
  done
  [ -n "$victim" ] || fail "no process of rank $rank on node2"
  t0=$(date +%s.%N)
  kill -9 "$victim"
  rc=0
  wait $job || rc=$?
  t1=$(date +%s.%N)
  secs=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
  echo "SIGKILLed rank $rank (node2) in $task; the job ended $secs s later (run.rank_timeout_s = $timeout_s; mpirun exit $rc):"
  grep "^anchorsweep:" lost.log | sed "s/^/  | /"   # (Open MPI's own warnings left out)
  [ $rc -ne 124 ] || fail "the job hung after rank $rank died, until timeout ended it: $(cat lost.log)"
  python3 -c "import sys; sys.exit(0 if $secs < $timeout_s + 10 else 1)" || fail "the job outlived the timeout by over 10 s"
  grep -q "rank $rank (host node2) is lost: no message from it" lost.log || fail "the message does not name rank $rank on node2"
  grep -q "Its task $task is journaled as failed (lost rank)" lost.log || fail "the message does not name task $task"
  grep -q "ending the job (exit 1)" lost.log || fail "rank 0 did not end the job"
  for r in 0 1 2 3; do
    [ $r -eq "$rank" ] || ! grep -qE "rank $r \(host node[12]\) is lost|rank $r is lost" lost.log || fail "live rank $r was taken for lost"
  done
  [ -z "$("$src/tests/cluster/pids" "$cluster" node2 anchorsweep)" ] || fail "ranks of node2 outlived the job"
  grep -q "\"error\":\"lost rank $rank (node2): no message from it" "$journal" || fail "the journal has no failed (lost rank) line"
  rm -f "$cluster/nodes/node2/tmp/hold"
  two_nodes "${tiny[@]}" --quiet --resume || fail "--resume after the lost rank failed"
  python3 "$src/tests/all_ok.py" "$journal" 10 2 "--resume ($task rerun)" || fail "the resumed run is wrong"
  ;;
*) echo "usage: cluster_test.sh across|faults|lost" >&2; exit 2 ;;
esac
echo "cluster test ($mode): passed"
