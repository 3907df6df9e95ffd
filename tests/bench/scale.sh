#!/usr/bin/env bash
# Benchmark (not a test): what rank 0 costs as a sweep grows, measured on a two-node namespace
# cluster (tests/cluster/). launcher/bench runs it; docs/scaling.md projects the figures to 64 nodes.
#   1. scheduling overhead per task: 10,000 empty tasks (--simulate-ms 0) on 1 node x 4 ranks and
#      on 2 nodes x 2 ranks, each against a 1-task run of the same layout;
#   2. rank 0's peak resident memory and the bytes it sends and receives, against seeds x ranks:
#      a short real sweep (the demo model with 1000-wide word vectors, so that an encoder weighs
#      several MB; 2 pretraining and 2 finetune epochs, 6 λ) with 1, 2, 4 and
#      8 seeds on 2 and 4 ranks over the 2 nodes; and the size of one encoder as shipped.
# Needs root and namespaces (exit 77 otherwise), and the built tool (ANCHORSWEEP_BIN).
set -euo pipefail
src="${ANCHORSWEEP_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${ANCHORSWEEP_BIN:-$src/build/anchorsweep}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
rc=0
cluster=$("$src/tests/cluster/start" 2 --owner $$) || rc=$?
[ $rc -eq 0 ] || { echo "scale: no namespace cluster here (exit $rc); skipped"; exit "$rc"; }
trap '"$src/tests/cluster/stop" "$cluster"' EXIT
cd "$cluster/shared"
on() { timeout 600 "$@"; }
node1=("$src/tests/cluster/on" "$cluster" node1 mpirun)   # mpirun on node1 alone
across=("$cluster/mpirun")                                 # mpirun on node1, ranks on both nodes
facts() { python3 -c "import json,sys; r=json.load(open('$cluster/nodes/node1/tmp/$1/run.json')); print($2)"; }

echo "-- scheduling overhead: 10,000 empty tasks (mpirun, --simulate-ms 0)"
overhead() {  # overhead LABEL NAME MPIRUN-ARGS...
  local label=$1 name=$2
  shift 2
  on "$@" "$bin" run "$src/tests/bench/overhead.toml" --set "run.output_dir=\"/tmp/${name}1\"" --set sweep.range.count=1 \
    --simulate-ms 0 --quiet --no-report
  on "$@" "$bin" run "$src/tests/bench/overhead.toml" --set "run.output_dir=\"/tmp/${name}n\"" --simulate-ms 0 --quiet --no-report
  local one many
  one=$(facts "${name}1/overhead" "r['wall_s']")
  many=$(facts "${name}n/overhead" "r['wall_s']")
  python3 -c "print(f\"{'$label':40s} {$many:6.2f} s; 1 task {$one:.3f} s -> {($many - $one) / 9999 * 1000:.3f} ms per task\")"
}
overhead "1 node x 4 ranks" o_one "${node1[@]}" -np 4 --oversubscribe
overhead "2 nodes x 2 ranks" o_two "${across[@]}" -np 4

echo
echo "-- rank 0 against seeds x ranks (2 nodes; demo model with word_dim 1000 for a bigger encoder, 2 + 2 epochs, 6 λ + 2 baselines a seed)"
printf '%-6s %-6s %10s %10s %12s %12s %10s %8s\n' seeds ranks "sent MB" "msgs" "received MB" "encoder MB" "RSS MiB" "wall s"
for seeds in 1 2 4 8; do
  for np in 2 4; do
    list=$(python3 -c "print(list(range(1, $seeds + 1)))")
    name="m-$seeds-$np"
    on "${across[@]}" -np "$np" --map-by node "$bin" run "$src/configs/demo.toml" --set "run.seeds=$list" \
      --set pretrain.epochs=2 --set finetune.epochs=2 --set data.synthetic.a_train=1000 --set model.word_dim=1000 \
      --set 'sweep.lambdas=[0,0.001,0.01,0.1,1,10]' --set run.threads=1 --set "run.output_dir=\"/tmp/$name\"" --quiet --no-report
    d="$cluster/nodes/node1/tmp/$name/demo"
    enc=$(python3 -c "import os; print(os.path.getsize('$d/encoders/seed-1.pt') / 1e6)")
    python3 - "$d/run.json" "$seeds" "$np" "$enc" << 'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["rank0_traffic"]
print(f"{sys.argv[2]:6s} {sys.argv[3]:6s} {t['sent_bytes'] / 1e6:10.2f} {t['sent_messages']:10d} {t['received_bytes'] / 1e6:12.2f} "
      f"{float(sys.argv[4]):12.3f} {r['rank0_peak_rss_mb']:10.0f} {r['wall_s']:8.1f}")
PY
  done
done
