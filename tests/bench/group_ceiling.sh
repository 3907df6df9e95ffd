#!/usr/bin/env bash
# tests/bench/group_ceiling.sh: what limits a 2-member pretraining group on this machine. Four
# 2-epoch one-seed SemEval pretrainings on 1 thread per rank, each printing its examples/s:
#   1. one rank, batch 50 (the reference);
#   2. one rank, batch 25 (a member's share of a 50-sentence batch: what halving costs);
#   3. two independent one-rank pretrainings at once, one per core (what sharing the machine costs);
#   4. a group of 2 (pretrain.ranks = 2) and the same with a single gradient bucket (no overlap).
# The ceiling for a group of 2 is 2 x (2 / 1) x (3 / 1) in examples/s. Skipped (exit 77) without
# the converted SemEval data. Nothing else should run.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${SEMEVAL_DIR:-../shared/data/semeval2010-task8}
[ -f "$data/a_train.json" ] || { echo "group_ceiling: no $data/a_train.json (set SEMEVAL_DIR)" >&2; exit 77; }
abs=$(cd "$data" && pwd)
out=$(mktemp -d /tmp/anchorsweep-group-ceiling.XXXXXX)
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
pretrain() {  # pretrain LABEL NP [--set ...]: prints LABEL and each pretraining's examples/s
  local label=$1 np=$2 dir
  shift 2
  dir=$(mktemp -d "$out/run.XXXX")
  mpirun -np "$np" --bind-to core build/anchorsweep run configs/semeval.toml --set "run.output_dir=\"$dir\"" \
    --set 'run.seeds=[1]' --set run.threads=1 --set pretrain.epochs=2 --set finetune.epochs=1 --set 'sweep.lambdas=[0]' \
    --set 'sweep.baselines=[]' --set 'run.encoder_store="none"' \
    $(for s in a_train a_dev b_train b_dev b_test; do printf -- '--set data.%s="%s/%s.json" ' "$s" "$abs" "$s"; done) \
    "$@" --quiet --no-report
  python3 - "$dir/semeval/results.jsonl" "$label" << 'PY'
import json, sys
rates = [round(json.loads(l)["examples_per_s"]) for l in open(sys.argv[1]) if '"pretrain"' in l]
print(f"{sys.argv[2]:62s} {', '.join(map(str, rates))} examples/s")
PY
}
pretrain "1. one rank, batch 50" 1
pretrain "2. one rank, batch 25" 1 --set pretrain.batch_size=25
pretrain "3. two independent one-rank pretrainings, one per core" 2 --set 'run.seeds=[1,2]'
pretrain "4. a group of 2, 256 KB buckets started during backward" 2 --set pretrain.ranks=2
ANCHORSWEEP_GRADIENT_BUCKET_BYTES=1000000000 \
  pretrain "   a group of 2, one bucket (started when backward ends)" 2 --set pretrain.ranks=2
