"""tests/all_ok.py JOURNAL TRIALS PRETRAINS [WHAT]: after a --resume, every trial and every
pretraining of the journal ends ok (a later line of one trial or seed replaces an earlier one, as
the readers take it), and there are TRIALS trials and PRETRAINS pretrainings."""
import json
import sys

journal, want_trials, want_pretrains = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
what = sys.argv[4] if len(sys.argv) > 4 else "--resume"
trials, pretrains = {}, {}
for r in (json.loads(line) for line in open(journal) if line.strip()):
    if r["type"] == "trial":
        trials[r["id"]] = r["status"]
    elif r["type"] == "pretrain":
        pretrains[r["seed"]] = r["status"]
bad = {**{k: v for k, v in trials.items() if v != "ok"}, **{f"pretrain-s{k}": v for k, v in pretrains.items() if v != "ok"}}
assert len(trials) == want_trials and len(pretrains) == want_pretrains and not bad, (
    f"{len(trials)} trials and {len(pretrains)} pretrainings (want {want_trials} and {want_pretrains}); "
    f"not ok after {what}: {bad}")
print(f"after {what}: {want_trials} trials and {want_pretrains} pretrainings, all ok")
