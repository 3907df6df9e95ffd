#!/usr/bin/env bash
# tests/bench/semeval_pretrain.sh [EPOCHS] [THREADS...]: pretraining examples/s on SemEval A
# (6,000 real sentences), issue 11's model (word_dim 100, pos_dim 16, H = 200, attn_dim 200,
# dropout 0.5, one LSTM layer, no entity masking, batch 50, Adam 1e-3, clip 5), anchorsweep
# against tests/bench/pytorch_pretrain.py on the same vocabulary (A + B train, every word),
# threads and epochs (SEMEVAL_BENCH_CPP_ONLY=1: anchorsweep alone). One side at a time: nothing else should run on the machine.
# Needs the converted SemEval data (README, "Real data") in ../shared/data/semeval2010-task8 or
# $SEMEVAL_DIR, and python3-torch for the PyTorch side.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${SEMEVAL_DIR:-../shared/data/semeval2010-task8}
epochs=${1:-1}
shift || true
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
[ -f "$data/a_train.json" ] || { echo "semeval_pretrain: no $data/a_train.json (set SEMEVAL_DIR)" >&2; exit 77; }
out=$(mktemp -d /tmp/anchorsweep-semeval-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
abs=$(cd "$data" && pwd)
for t in "${threads[@]}"; do
  build/anchorsweep run configs/semeval.toml --set run.output_dir="\"$out/t$t\"" --set 'run.seeds=[1]' \
    --set run.threads="$t" --set data.min_word_count=1 --set model.pos_dim=16 \
    --set pretrain.epochs="$epochs" --set pretrain.lr_decay=1.0 --set finetune.epochs=1 \
    --set 'sweep.lambdas=[0]' --set 'sweep.baselines=[]' \
    $(for s in a_train a_dev b_train b_dev b_test; do printf -- '--set data.%s="%s/%s.json" ' "$s" "$abs" "$s"; done) \
    ${ANCHORSWEEP_BENCH_SET:-} --quiet --no-report
  cpp=$(python3 -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if '\"pretrain\"' in l][0]['examples_per_s'])" "$out/t$t/semeval/results.jsonl")
  if [ "${SEMEVAL_BENCH_CPP_ONLY:-0}" = 1 ]; then
    printf '%-58s %s\n' "SemEval A, $t thread(s): anchorsweep" "$(printf '%.0f' "$cpp") examples/s"
  elif /usr/bin/python3 -c "import torch" 2> /dev/null; then
    py=$(/usr/bin/python3 tests/bench/pytorch_pretrain.py "$abs" --vocab-also "$abs/b_train.json" --no-masking \
      --word-dim 100 --pos-dim 16 --hidden 200 --attn-dim 200 --dropout 0.5 --lr 0.001 \
      --epochs "$epochs" --threads "$t" | tail -1)
    pyr=$(echo "$py" | sed -n 's/.*pretraining: \([0-9]*\) examples.*/\1/p')
    printf '%-58s %s\n' "SemEval A, $t thread(s): anchorsweep / PyTorch" \
      "$(printf '%.0f' "$cpp") / $pyr examples/s -> $(python3 -c "print(f'{$cpp/$pyr:.2f}')")x (target >= 2x)"
  else
    printf '%-58s %s\n' "SemEval A, $t thread(s): anchorsweep" "$(printf '%.0f' "$cpp") examples/s (PyTorch side skipped: no python3-torch)"
  fi
done
