#!/usr/bin/env bash
# tests/bench/group_scaling.sh: a data-parallel pretraining group against one rank, on the one-seed
# SemEval sweep (pretraining-dominated: 5 pretraining + 5 finetuning epochs, seed 1): 1 rank x 1
# thread against 2 ranks x 1 thread with pretrain.ranks = 2 (mpirun, each rank bound to its own
# core). Prints both wall times (the whole process), the ratio (target >= 1.7x), and the
# pretrained encoder's A-dev micro-F1 and the pretrained baseline's B-test micro-F1 in both (target:
# within 0.03). Skipped (exit 77) without the converted SemEval data. Nothing else should run.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${SEMEVAL_DIR:-../shared/data/semeval2010-task8}
[ -f "$data/a_train.json" ] || { echo "group_scaling: no $data/a_train.json (set SEMEVAL_DIR)" >&2; exit 77; }
abs=$(cd "$data" && pwd)
out=$(mktemp -d /tmp/anchorsweep-group-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sweep() {  # sweep NAME NP [--set ...]
  local name=$1 np=$2
  shift 2
  mpirun -np "$np" --bind-to core build/anchorsweep run configs/semeval.toml --set "run.output_dir=\"$out\"" \
    --set "run.name=\"$name\"" --set 'run.seeds=[1]' --set run.threads=1 --set pretrain.epochs=5 --set finetune.epochs=5 \
    --set 'run.encoder_store="none"' \
    $(for s in a_train a_dev b_train b_dev b_test; do printf -- '--set data.%s="%s/%s.json" ' "$s" "$abs" "$s"; done) \
    "$@" --quiet --no-report
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
