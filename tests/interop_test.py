#!/usr/bin/env python3
"""Interop: results.csv and summary.csv load in pandas with no options; checkpoints load with
torch.load (also with weights_only=True, PyTorch 2.6's default). Needs Debian's python3-pandas and python3-torch (launcher/setup --test installs them); without
them the test fails."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import pandas as pd
    import torch
except ImportError as e:
    print(f"FAIL: {e}: the test needs python3-pandas python3-torch (launcher/setup --test installs it)")
    sys.exit(1)

bin_ = os.environ.get("ANCHORSWEEP_BIN", "anchorsweep")
src = os.environ.get("ANCHORSWEEP_SOURCE", ".")
out = tempfile.mkdtemp(prefix="anchorsweep-interop-")
subprocess.run([bin_, "run", f"{src}/tests/tiny.toml", "--set", f"run.output_dir={out}", "--quiet"], check=True)
run = f"{out}/tiny"

results = pd.read_csv(f"{run}/results.csv")
summary = pd.read_csv(f"{run}/summary.csv")
journal = [json.loads(l) for l in open(f"{run}/results.jsonl")]
trials = {j["id"]: j for j in journal if j["type"] == "trial"}
assert len(results) == 4 * len(trials), (len(results), len(trials))
assert results["micro_f1"].dtype.kind == "f", results.dtypes
for _, row in results.iterrows():
    expected = trials[row["trial"]]["metrics"][row["split"]]["micro_f1"]
    assert abs(row["micro_f1"] - expected) < 1e-9, (row["trial"], row["split"], row["micro_f1"], expected)
lam = summary[(summary["kind"] == "anchored") & (summary["split"] == "test")]
assert sorted(lam["lambda"].tolist()) == [0.0, 0.01, 1.0], lam["lambda"].tolist()
mean = results[(results["kind"] == "anchored") & (results["lambda"] == 0.01) & (results["split"] == "test")]["micro_f1"].mean()
got = lam[lam["lambda"] == 0.01]["micro_f1_mean"].iloc[0]
assert abs(mean - got) < 1e-9, (mean, got)

# A plain torch.load must work on every PyTorch: from 2.6 on it means weights_only=True, which
# refuses any global outside its allow-list. Ask for it explicitly where this torch knows it.
import inspect
if "weights_only" in inspect.signature(torch.load).parameters:
    for path in (f"{run}/trials/s1-lam0.01/adapter.pt", f"{run}/trials/s1-pretrained/adapter.pt", f"{run}/encoders/seed-1.pt"):
        safe, full = torch.load(path, weights_only=True), torch.load(path, weights_only=False)
        assert safe.keys() == full.keys() and all(torch.equal(safe[k], full[k]) for k in safe), path

labels = json.load(open(f"{run}/run.json"))["labels"]
K, H = len(labels), 12
ckpt = torch.load(f"{run}/trials/s1-lam0.01/adapter.pt")
assert ckpt["weight"].shape == (K, K + H), ckpt["weight"].shape
assert ckpt["anchor"].shape == (K, K + H)
assert torch.equal(ckpt["anchor"][:, :K], torch.eye(K))
assert abs(float(ckpt["lambda"]) - 0.01) < 1e-12
pre = torch.load(f"{run}/trials/s1-pretrained/adapter.pt")
assert torch.equal(pre["weight"], pre["anchor"])
enc = torch.load(f"{run}/encoders/seed-1.pt")
assert enc["dense.weight"].shape == (K, H), enc["dense.weight"].shape
shutil.rmtree(out)  # kept only when an assertion above failed
print(f"interop ok: {len(results)} rows in results.csv, {len(summary)} in summary.csv, checkpoints load with torch {torch.__version__}")
