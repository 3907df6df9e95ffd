#!/usr/bin/env bash
# tests/bench/store.sh: what the encoder store saves. For each of two sweeps, a first run, then a
# second that differs only in penalty.mode (the next question about the adapter), both sharing one
# encoder store: the second's wall time against the first's (target <= 0.15x), and whether its
# pretrained baseline is bit-identical to the first's (same encoder hash, same metrics).
#   demo     configs/demo.toml with 2 seeds
#   semeval  configs/semeval.toml (3 seeds) with 5 pretraining and 5 finetuning epochs; skipped
#            without the converted SemEval data
# Wall time is the whole process, start-up included, as a user waits for it. Nothing else should
# run on the machine meanwhile.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d /tmp/anchorsweep-store-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
row() { printf '%-58s %s\n' "$1" "$2"; }

pair() {  # pair LABEL CONFIG [--set ...]: first run, then penalty.mode changed; prints the rows
  local label=$1 config=$2
  shift 2
  local mode
  mode=$(python3 -c "import tomllib,sys; print(tomllib.load(open(sys.argv[1],'rb')).get('penalty',{}).get('mode','loss'))" "$config" 2> /dev/null || echo loss)
  local other=decoupled
  [ "$mode" = decoupled ] && other=loss
  local t0 t1 t2
  t0=$(date +%s.%N)
  build/anchorsweep run "$config" --set run.output_dir="\"$out/$label\"" --set 'run.name="first"' "$@" --quiet --no-report
  t1=$(date +%s.%N)
  build/anchorsweep run "$config" --set run.output_dir="\"$out/$label\"" --set 'run.name="second"' "$@" \
    --set "penalty.mode=\"$other\"" --quiet --no-report
  t2=$(date +%s.%N)
  python3 - "$out/$label" "$label" "$t0" "$t1" "$t2" << 'PY'
import json, sys
d, label, t0, t1, t2 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
def recs(run, kind):
    return [json.loads(l) for l in open(f"{d}/{run}/results.jsonl") if f'"type":"{kind}"' in l]
first, second = t1 - t0, t2 - t1
pa = {r["seed"]: r for r in recs("first", "pretrain")}
pb = {r["seed"]: r for r in recs("second", "pretrain")}
reused = sum(1 for r in pb.values() if r.get("reused_from"))
same_enc = all(pb[s]["encoder_hash"] == pa[s]["encoder_hash"] for s in pa)
ta = {r["id"]: r["metrics"] for r in recs("first", "trial") if r["kind"] == "pretrained"}
tb = {r["id"]: r["metrics"] for r in recs("second", "trial") if r["kind"] == "pretrained"}
same_base = ta == tb and len(ta) == len(pa)
print(f"{label + ': first sweep':58s} {first:.1f} s")
print(f"{label + ': second sweep, only penalty.mode changed':58s} {second:.1f} s ({reused} of {len(pb)} encoders reused)")
print(f"{label + ': second / first':58s} {second / first:.3f}x (target <= 0.15x)")
print(f"{label + ': pretrained baseline bit-identical':58s} {'yes' if same_enc and same_base else 'NO'} "
      f"(encoder hashes {'equal' if same_enc else 'differ'}, metrics {'equal' if same_base else 'differ'})")
PY
}

echo "-- encoder store: a second sweep that changes only the adapter's penalty"
pair demo configs/demo.toml --set 'run.seeds=[1, 2]'
data=${SEMEVAL_DIR:-../shared/data/semeval2010-task8}
if [ -f "$data/a_train.json" ]; then
  abs=$(cd "$data" && pwd)
  pair semeval configs/semeval.toml --set pretrain.epochs=5 --set finetune.epochs=5 \
    $(for s in a_train a_dev b_train b_dev b_test; do printf -- '--set data.%s="%s/%s.json" ' "$s" "$abs" "$s"; done)
else
  row "semeval" "skipped: no $data/a_train.json (README, Real data)"
fi
