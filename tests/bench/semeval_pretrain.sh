#!/usr/bin/env bash
# tests/bench/semeval_pretrain.sh [EPOCHS] [THREADS...]: pretraining examples/s on SemEval A
# (6,000 real sentences), the reference model (word_dim 100, pos_dim 16, H = 200, attn_dim 200,
# dropout 0.5, one LSTM layer, no entity masking, batch 50, Adam 1e-3, clip 5), anchorsweep
# against tests/bench/pytorch_pretrain.py on the same vocabulary (A + B train, every word: 20,169),
# threads and epochs. PyTorch runs twice: as installed, and with the OpenBLAS kernels anchorsweep
# ran on (OPENBLAS_CORETYPE; anchorsweep picks them when OpenBLAS falls back to generic ones).
# Each figure is the best of $REPEATS runs (default 2): this VM's timings vary by up to a third
# from run to run. One program at a time: nothing else should run on the machine.
# SEMEVAL_BENCH_CPP_ONLY=1: anchorsweep alone. ANCHORSWEEP_BENCH_SET: extra --set arguments.
# Needs the converted SemEval data (README, "Real data") in ../shared/data/semeval2010-task8 or
# $SEMEVAL_DIR, and python3-torch for the PyTorch side.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${SEMEVAL_DIR:-../shared/data/semeval2010-task8}
epochs=${1:-1}
shift || true
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
repeats=${REPEATS:-2}
[ -f "$data/a_train.json" ] || { echo "semeval_pretrain: no $data/a_train.json (set SEMEVAL_DIR)" >&2; exit 77; }
out=$(mktemp -d /tmp/anchorsweep-semeval-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
abs=$(cd "$data" && pwd)
best() { python3 -c "import sys; print(max(float(v) for v in sys.argv[1:]))" "$@"; }

cpp_run() {  # threads repeat -> examples/s; leaves the run's OpenBLAS kernels in $out/kernels
  local d="$out/t$1r$2"
  build/anchorsweep run configs/semeval.toml --set run.output_dir="\"$d\"" --set 'run.seeds=[1]' \
    --set run.threads="$1" --set data.min_word_count=1 --set model.pos_dim=16 \
    --set pretrain.epochs="$epochs" --set pretrain.lr_decay=1.0 --set finetune.epochs=1 \
    --set 'sweep.lambdas=[0]' --set 'sweep.baselines=[]' \
    $(for s in a_train a_dev b_train b_dev b_test; do printf -- '--set data.%s="%s/%s.json" ' "$s" "$abs" "$s"; done) \
    ${ANCHORSWEEP_BENCH_SET:-} --quiet --no-report
  python3 - "$d/semeval" "$out/kernels" << 'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/results.jsonl")]
print([r for r in recs if r["type"] == "pretrain"][0]["examples_per_s"])
open(sys.argv[2], "w").write(json.load(open(sys.argv[1] + "/run.json")).get("blas_kernels", "").split(" ")[0])
PY
}
py_run() {  # threads [OPENBLAS_CORETYPE] -> examples/s
  env ${2:+OPENBLAS_CORETYPE=$2} /usr/bin/python3 tests/bench/pytorch_pretrain.py "$abs" --vocab-also "$abs/b_train.json" \
    --no-masking --word-dim 100 --pos-dim 16 --hidden 200 --attn-dim 200 --dropout 0.5 --lr 0.001 \
    --epochs "$epochs" --threads "$1" | tail -1 | sed -n 's/.*pretraining: \([0-9]*\) examples.*/\1/p'
}

have_torch=0
[ "${SEMEVAL_BENCH_CPP_ONLY:-0}" = 1 ] || ! /usr/bin/python3 -c "import torch" 2> /dev/null || have_torch=1
for t in "${threads[@]}"; do
  c=(); p=(); q=()
  for r in $(seq "$repeats"); do
    c+=("$(cpp_run "$t" "$r")")
    kernels=$(cat "$out/kernels")
    if [ $have_torch = 1 ]; then
      p+=("$(py_run "$t")")
      q+=("$(py_run "$t" "$kernels")")
    fi
  done
  cpp=$(best "${c[@]}")
  if [ $have_torch = 1 ]; then
    py=$(best "${p[@]}")
    pyk=$(best "${q[@]}")
    python3 - "$t" "$cpp" "$py" "$pyk" "$kernels" "$repeats" << 'PY'
import sys
t, cpp, py, pyk, k, n = sys.argv[1], *map(float, sys.argv[2:5]), sys.argv[5], sys.argv[6]
print(f"SemEval A, {t} thread(s), best of {n}: anchorsweep {cpp:.0f} examples/s; PyTorch {py:.0f} as installed "
      f"-> {cpp / py:.2f}x; PyTorch {pyk:.0f} on the same OpenBLAS kernels ({k}) -> {cpp / pyk:.2f}x (target >= 2x)")
PY
  else
    printf 'SemEval A, %s thread(s), best of %s: anchorsweep %.0f examples/s (OpenBLAS kernels %s)\n' "$t" "$repeats" "$cpp" "$kernels"
  fi
done
