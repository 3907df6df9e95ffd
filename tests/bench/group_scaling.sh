#!/usr/bin/env bash
# tests/bench/group_scaling.sh [ceiling]: a data-parallel pretraining group against one rank, on
# SemEval with 1 thread per rank. Skipped (exit 77) without the converted SemEval data. Nothing else
# should run.
#
# Without an argument: the one-seed SemEval sweep (pretraining-dominated: 5 pretraining + 5
# finetuning epochs, seed 1), 1 rank x 1 thread against 2 ranks x 1 thread with pretrain.ranks = 2
# (mpirun, each rank bound to its own core). Prints both wall times (the whole process), the ratio
# (target >= 1.7x), and the pretrained encoder's A-dev micro-F1 and the pretrained baseline's
# B-test micro-F1 in both (target: within 0.03).
#
# `ceiling`: what limits a group of 2. Five 2-epoch one-seed pretrainings, each printing its
# examples/s: one rank at batch 50 (the reference) and at batch 25 (a member's share: what halving
# costs); two independent one-rank pretrainings at once, one per core (what sharing the machine
# costs); a group of 2, and the same with a single gradient bucket (no overlap with backward). The
# cores allow a group of 2 about 2 x (batch 25 / batch 50) x (shared / alone).
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${SEMEVAL_DIR:-../shared/data/semeval2010-task8}
[ -f "$data/a_train.json" ] || { echo "group_scaling: no $data/a_train.json (set SEMEVAL_DIR)" >&2; exit 77; }
abs=$(cd "$data" && pwd)
out=$(mktemp -d /tmp/anchorsweep-group-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
semeval() {  # semeval DIR NP [--set ...]: one seed of SemEval, 1 thread per rank, into DIR
  local dir=$1 np=$2
  shift 2
  mpirun -np "$np" --bind-to core build/anchorsweep run configs/semeval.toml --set "run.output_dir=\"$dir\"" \
    --set 'run.seeds=[1]' --set run.threads=1 --set 'run.encoder_store="none"' \
    $(for s in a_train a_dev b_train b_dev b_test; do printf -- '--set data.%s="%s/%s.json" ' "$s" "$abs" "$s"; done) \
    "$@" --quiet --no-report
}
if [ "${1:-}" = ceiling ]; then
  pretrain() {  # pretrain LABEL NP [--set ...]: 2 pretraining epochs; prints LABEL and each one's examples/s
    local label=$1 np=$2 dir
    shift 2
    dir=$(mktemp -d "$out/run.XXXX")
    semeval "$dir" "$np" --set pretrain.epochs=2 --set finetune.epochs=1 --set 'sweep.lambdas=[0]' --set 'sweep.baselines=[]' "$@"
    python3 -c 'import json, sys; print(f"{sys.argv[2]:62s}", ", ".join(str(round(json.loads(l)["examples_per_s"])) for l in open(sys.argv[1]) if "\"pretrain\"" in l), "examples/s")' \
      "$dir/semeval/results.jsonl" "$label"
  }
  pretrain "1. one rank, batch 50" 1
  pretrain "2. one rank, batch 25" 1 --set pretrain.batch_size=25
  pretrain "3. two independent one-rank pretrainings, one per core" 2 --set 'run.seeds=[1,2]'
  pretrain "4. a group of 2, 256 KB buckets started during backward" 2 --set pretrain.ranks=2
  ANCHORSWEEP_GRADIENT_BUCKET_BYTES=1000000000 \
    pretrain "   a group of 2, one bucket (started when backward ends)" 2 --set pretrain.ranks=2
  exit 0
fi
sweep() {  # sweep NAME NP [--set ...]: 5 + 5 epochs
  local name=$1 np=$2
  shift 2
  semeval "$out" "$np" --set "run.name=\"$name\"" --set pretrain.epochs=5 --set finetune.epochs=5 "$@"
}
t0=$(date +%s.%N)
sweep one 1
t1=$(date +%s.%N)
sweep group 2 --set pretrain.ranks=2
t2=$(date +%s.%N)
python3 - "$out" "$t0" "$t1" "$t2" << 'PY'
import json, sys
out, t0, t1, t2 = sys.argv[1], *map(float, sys.argv[2:])
def f1(run):
    recs = [json.loads(l) for l in open(f"{out}/{run}/results.jsonl")]
    pre = [r for r in recs if r["type"] == "pretrain"][0]
    base = [r for r in recs if r["type"] == "trial" and r["kind"] == "pretrained"][0]
    return pre["a_dev_micro_f1"], base["metrics"]["test"]["micro_f1"], pre["examples_per_s"]
one, group = t1 - t0, t2 - t1
(a1, b1, e1), (a2, b2, e2) = f1("one"), f1("group")
print(f"{'1 rank x 1 thread (one-seed SemEval, 5 + 5 epochs)':58s} {one:.1f} s ({e1:.0f} pretraining examples/s)")
print(f"{'2 ranks x 1 thread, pretrain.ranks = 2':58s} {group:.1f} s ({e2:.0f} pretraining examples/s)")
print(f"{'speed-up':58s} {one / group:.2f}x (target >= 1.7x)")
print(f"{'A-dev micro-F1 of the encoder: 1 rank, 2 ranks':58s} {a1:.4f}, {a2:.4f} (difference {abs(a1 - a2):.4f}; target <= 0.03)")
print(f"{'B-test micro-F1 of the pretrained baseline':58s} {b1:.4f}, {b2:.4f} (difference {abs(b1 - b2):.4f})")
PY
