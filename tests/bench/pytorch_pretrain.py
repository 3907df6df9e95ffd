#!/usr/bin/env python3
"""Pretraining throughput of the same classifier in PyTorch (Debian's python3-torch), for
comparison with anchorsweep's C++ pretraining: same model, batch size, thread count and data.

  python3 tests/bench/pytorch_pretrain.py DATA_DIR --word-dim 50 --hidden 64 --attn-dim 64 --pos-dim 10 \
      --batch-size 50 --epochs 3 --threads 2

DATA_DIR holds a_train.json in TACRED JSON (anchorsweep_bench export writes the synthetic one).
Prints examples/s over the training steps only, as anchorsweep's journal does.
"""
import argparse
import collections
import json
import time

import torch
import torch.nn as nn

MAX_DIST = 100


def load(path, masking=True):
    data = json.load(open(path))
    sents = []
    for d in data:
        toks = list(d["token"])
        if masking:
            for i in range(d["subj_start"], d["subj_end"] + 1):
                toks[i] = "SUBJ-" + (d.get("subj_type") or "ENT")
            for i in range(d["obj_start"], d["obj_end"] + 1):
                toks[i] = "OBJ-" + (d.get("obj_type") or "ENT")
        sents.append((toks, d["relation"], d["subj_start"], d["subj_end"], d["obj_start"], d["obj_end"]))
    return sents


def rel(i, s, e):
    return i - s if i < s else (i - e if i > e else 0)


def tensorize(sents, vocab, labels):
    n, L = len(sents), max(len(s[0]) for s in sents)
    tok = torch.zeros(n, L, dtype=torch.long)
    sp = torch.full((n, L), MAX_DIST, dtype=torch.long)
    op = torch.full((n, L), MAX_DIST, dtype=torch.long)
    lens = torch.zeros(n, dtype=torch.long)
    y = torch.zeros(n, dtype=torch.long)
    for r, (toks, lab, ss, se, os_, oe) in enumerate(sents):
        lens[r] = len(toks)
        y[r] = labels[lab]
        for i, w in enumerate(toks):
            tok[r, i] = vocab.get(w, 1)
            sp[r, i] = max(-MAX_DIST, min(MAX_DIST, rel(i, ss, se))) + MAX_DIST
            op[r, i] = max(-MAX_DIST, min(MAX_DIST, rel(i, os_, oe))) + MAX_DIST
    return tok, sp, op, lens, y


class Encoder(nn.Module):
    """embedding -> packed LSTM -> position-aware attention -> dense(K), as src/model/encoder.cpp."""

    def __init__(self, vocab, K, a):
        super().__init__()
        self.word = nn.Embedding(vocab, a.word_dim, padding_idx=0)
        self.lstm = nn.LSTM(a.word_dim, a.hidden, batch_first=True)
        self.subj_pos = nn.Embedding(2 * MAX_DIST + 1, a.pos_dim)
        self.obj_pos = nn.Embedding(2 * MAX_DIST + 1, a.pos_dim)
        self.attn_h = nn.Linear(a.hidden, a.attn_dim)
        self.attn_q = nn.Linear(a.hidden, a.attn_dim, bias=False)
        self.attn_p = nn.Linear(2 * a.pos_dim, a.attn_dim, bias=False)
        self.attn_v = nn.Linear(a.attn_dim, 1)
        self.drop = nn.Dropout(a.dropout)
        self.dense = nn.Linear(a.hidden, K)

    def forward(self, tok, sp, op, lens, mask):
        x = self.drop(self.word(tok))
        packed = nn.utils.rnn.pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=tok.size(1))
        q = h_n[-1]
        h = self.drop(h)
        p = torch.cat([self.subj_pos(sp), self.obj_pos(op)], 2)
        e = torch.tanh(self.attn_h(h) + self.attn_q(q).unsqueeze(1) + self.attn_p(p))
        score = self.attn_v(e).squeeze(2).masked_fill(~mask, -1e30)
        a = torch.softmax(score, 1)
        summary = torch.bmm(a.unsqueeze(1), h).squeeze(1)
        return self.dense(self.drop(summary))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--word-dim", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--attn-dim", type=int, default=64)
    ap.add_argument("--pos-dim", type=int, default=10)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-masking", action="store_true", help="keep entity words (model.entity_masking = false)")
    ap.add_argument("--vocab-also", action="append", default=[], metavar="JSON",
                    help="also count this file's words into the vocabulary (anchorsweep counts A and B train)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]: the data live there, as in anchorsweep")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    train = load(a.data_dir + "/a_train.json", masking=not a.no_masking)
    counts = collections.Counter(w for s in train for w in s[0])
    for path in a.vocab_also:
        counts.update(w for s in load(path, masking=not a.no_masking) for w in s[0])
    vocab = {w: i + 2 for i, (w, _) in enumerate(counts.most_common())}
    labels = {l: i for i, l in enumerate(sorted({s[1] for s in train}))}
    tok, sp, op, lens, y = tensorize(train, vocab, labels)
    # As anchorsweep does: the split lives on the device; lengths stay on the host, where
    # pack_padded_sequence wants them.
    tok, sp, op, y = tok.to(dev), sp.to(dev), op.to(dev), y.to(dev)
    model = Encoder(len(vocab) + 2, len(labels), a).to(dev)
    # PyTorch's best eager Adam on a GPU: fused=True (one kernel set for all parameters, PyTorch
    # >= 2.0); cuDNN's LSTM is nn.LSTM's default there.
    try:
        opt = torch.optim.Adam(model.parameters(), lr=a.lr, fused=dev.type == "cuda")
    except (TypeError, RuntimeError):
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    n, seen, seconds = len(train), 0, 0.0
    for epoch in range(a.epochs):
        model.train()
        order = torch.randperm(n)
        order_dev = order.to(dev)
        t0 = time.perf_counter()
        for i in range(0, n, a.batch_size):
            idx, idx_dev = order[i:i + a.batch_size], order_dev[i:i + a.batch_size]
            L = int(lens[idx].max())
            t, s_, o_, l_ = tok[idx_dev, :L], sp[idx_dev, :L], op[idx_dev, :L], lens[idx]
            mask = torch.arange(L, device=dev).unsqueeze(0) < l_.to(dev).unsqueeze(1)
            loss = nn.functional.cross_entropy(model(t, s_, o_, l_, mask), y[idx_dev])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            seen += len(idx)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        seconds += time.perf_counter() - t0
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}")
    print(f"pytorch {torch.__version__} pretraining: {seen / seconds:.0f} examples/s "
          f"({seen} examples, {a.threads} threads, {a.device}, batch {a.batch_size}, H={a.hidden}, "
          f"vocabulary {len(vocab) + 2})")


if __name__ == "__main__":
    main()
