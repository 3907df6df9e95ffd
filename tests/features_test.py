#!/usr/bin/env python3
"""data.format = "features": adapters over a model of the user's own. Feature files written here
with torch.save (as the README's export does) are swept; the pretrained baseline (the anchor
[I | 0] on the features) must score exactly the argmax of the logit columns, nothing is
pretrained, and bad files or a scratch baseline are refused with a located message. Needs
Debian's python3-torch (launcher/setup --test installs it); without it the test fails."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError as e:
    print(f"FAIL: {e}: the test needs python3-torch (launcher/setup --test installs it)")
    sys.exit(1)

bin_ = os.environ.get("ANCHORSWEEP_BIN", "anchorsweep")
tmp = tempfile.mkdtemp(prefix="anchorsweep-features-")

# Labels in the model's column order, deliberately unsorted; "Other" is the negative label.
labels = ["Other", "cause", "agent", "whole", "destination"]
K, H = len(labels), 7
g = torch.Generator().manual_seed(3)


def split(n, dtype_x=torch.float32, dtype_y=torch.int64):
    y = torch.randint(0, K, (n,), generator=g)
    logits = torch.randn(n, K, generator=g) + 1.5 * torch.nn.functional.one_hot(y, K)
    summary = torch.randn(n, H, generator=g) + 0.5 * y.unsqueeze(1)
    return {"x": torch.cat([logits, summary], 1).to(dtype_x), "y": y.to(dtype_y), "labels": list(labels)}


data = {"b_train": split(300), "b_dev": split(120, dtype_y=torch.int32), "b_test": split(150, dtype_x=torch.float64)}
for name, d in data.items():
    torch.save(d, f"{tmp}/{name}.pt")


def micro_f1(x, y, negative=0):
    """TACRED's scorer on the argmax of the logit columns."""
    pred = x[:, :K].argmax(1)
    y = y.long()
    correct = int(((pred == y) & (y != negative)).sum())
    guessed, gold = int((pred != negative).sum()), int((y != negative).sum())
    p = correct / guessed if guessed else 1.0
    r = correct / gold if gold else 0.0
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def config(extra=""):
    path = f"{tmp}/features.toml"
    with open(path, "w") as f:
        f.write(f"""[run]
name = "feat"
output_dir = "{tmp}/runs"
seeds = [1, 2]

[data]
format = "features"
b_train = "b_train.pt"
b_dev = "b_dev.pt"
b_test = "b_test.pt"
negative_label = "Other"

[finetune]
epochs = 4
batch_size = 32

[sweep]
lambdas = [0, 0.1, 10]
{extra}""")
    return path


def run(*args):
    p = subprocess.run([bin_, *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


code, out = run("run", config(), "--quiet")
assert code == 0, out
rd = f"{tmp}/runs/feat"
journal = [json.loads(l) for l in open(f"{rd}/results.jsonl")]
trials = {j["id"]: j for j in journal if j["type"] == "trial"}
assert not [j for j in journal if j["type"] == "pretrain"], "nothing may be pretrained"
assert not os.path.exists(f"{rd}/encoders") or not os.listdir(f"{rd}/encoders")
assert sorted(trials) == sorted(f"s{s}-{t}" for s in (1, 2) for t in ("lam0", "lam0.1", "lam10", "pretrained")), sorted(trials)
assert all(t["status"] == "ok" for t in trials.values()), [t["status"] for t in trials.values()]
assert json.load(open(f"{rd}/run.json"))["labels"] == labels, "labels keep the file's column order"

# The pretrained baseline is exactly the argmax of the logit columns.
for seed in (1, 2):
    m = trials[f"s{seed}-pretrained"]["metrics"]
    for split_name, key in (("dev", "b_dev"), ("test", "b_test")):
        want = micro_f1(data[key]["x"], data[key]["y"])
        assert abs(m[split_name]["micro_f1"] - want) < 1e-12, (seed, split_name, m[split_name]["micro_f1"], want)
ckpt = torch.load(f"{rd}/trials/s1-lam0.1/adapter.pt")
assert ckpt["weight"].shape == (K, K + H), ckpt["weight"].shape
assert torch.equal(ckpt["anchor"][:, :K], torch.eye(K))

# Refusals: exit 2, the file or key named, nothing written.
def refused(cfg_text, must_name, *sets):
    shutil.rmtree(f"{tmp}/runs", ignore_errors=True)
    code, out = run("run", config(cfg_text), "--quiet", *sets)
    assert code == 2, (code, out)
    assert all(s in out for s in must_name), (must_name, out)
    assert not os.path.exists(f"{tmp}/runs/feat"), "a refused run wrote its directory"

refused("", ["sweep.baselines[1]", "scratch", "features"], "--set", 'sweep.baselines=["pretrained","scratch"]')
refused("", ["data.a_train", "not used"], "--set", 'data.a_train="b_train.pt"')
refused("", ["finetune.mode", "cached"], "--set", 'finetune.mode="naive"')
torch.save({"x": data["b_dev"]["x"], "labels": labels}, f"{tmp}/no_y.pt")
refused("", ["no_y.pt", 'key "y" missing'], "--set", 'data.b_dev="no_y.pt"')
torch.save({**data["b_dev"], "labels": list(reversed(labels))}, f"{tmp}/other_labels.pt")
refused("", ["other_labels.pt", "labels", "differs"], "--set", 'data.b_dev="other_labels.pt"')
torch.save({**data["b_dev"], "y": torch.full((120,), K)}, f"{tmp}/bad_y.pt")
refused("", ["bad_y.pt", "y[0] = 5", "outside 0..4"], "--set", 'data.b_dev="bad_y.pt"')
refused("", ["negative_label", "NONE"], "--set", 'data.negative_label="NONE"')
with open(f"{tmp}/not_torch.pt", "w") as f:
    f.write("hello")
refused("", ["not_torch.pt", "torch.save", "no zip header"], "--set", 'data.b_dev="not_torch.pt"')
# A sparse x (exit 2, not an exception outside the checks), a bool or complex y.
torch.save({**data["b_dev"], "x": data["b_dev"]["x"].to_sparse()}, f"{tmp}/sparse_x.pt")
# (LibTorch 1.13's unpickler does not know sparse layouts and says so; a newer one reads the tensor
# and the check of x's layout refuses it: either way exit 2 naming the file.)
refused("", ["sparse_x.pt", "data.b_dev" if "_get_layout" in run("run", config(), "--quiet", "--set", 'data.b_dev="sparse_x.pt"')[1] else "to_dense"],
        "--set", 'data.b_dev="sparse_x.pt"')
torch.save({**data["b_dev"], "y": data["b_dev"]["y"] > 2}, f"{tmp}/bool_y.pt")
refused("", ["bool_y.pt", 'key "y"', "integer tensor", "Bool"], "--set", 'data.b_dev="bool_y.pt"')
torch.save({**data["b_dev"], "y": data["b_dev"]["y"].to(torch.complex64)}, f"{tmp}/complex_y.pt")
refused("", ["complex_y.pt", 'key "y"', "integer tensor"], "--set", 'data.b_dev="complex_y.pt"')

shutil.rmtree(tmp)  # kept only when an assertion above failed
print(f"features ok: {len(trials)} trials over given features, the pretrained baseline equals the argmax of the logits, "
      f"11 refusals (torch {torch.__version__})")
