#!/usr/bin/python3
"""PyTorch side of the CPU benchmarks (cmd/bench; docs/benchmarks.md).

The GAU-alpha math written plainly in PyTorch eager, as a user would write
it: no SDPA, no torch.compile, no fusions, float32 on the CPU. Each case runs
in its own process so that its peak RSS is its own:

    /usr/bin/python3 scripts/bench_torch.py --case layer_fwdbwd --threads 2 --json

prints one JSON object {case, seconds, runs, warmup, times, peak_rss_bytes,
...}. seconds is the median of the timed runs after the warm-up runs.
cmd/bench runs every case this way (and the Go side the same way) and
prints the comparison table.

Needs Debian's python3-torch (1.13) with libopenblas0-pthread:
    apt-get install -y python3-torch libopenblas0-pthread
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

# The thread environment must be set before torch (and OpenBLAS) load.
def _early_threads():
    n = "2"
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            n = sys.argv[i + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(k, n)


_early_threads()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

EPS_NORM = 1e-12

# Model sizes (gau.PaperConfig and gau.DefaultConfig).
PAPER = dict(hidden=768, inter=1536, key=128, layers=6, vocab=12000, n0=64)
DEFAULT = dict(hidden=128, inter=256, key=64, layers=3, vocab=1500, n0=64)

# Each case: what to build, warm-up runs, timed runs. Keep in step with
# benchmark/case.go (the same names, shapes and run counts).
CASES = {
    "idle": dict(kind="idle", warmup=0, runs=1),
    "attn_fwd_1024": dict(kind="attn_fwd", L=1024, warmup=2, runs=10),
    "attn_fwd_4096": dict(kind="attn_fwd", L=4096, warmup=1, runs=5),
    "attn_bwd_1024": dict(kind="attn_bwd", L=1024, warmup=2, runs=10),
    "layer_fwd": dict(kind="layer_fwd", B=8, L=512, warmup=1, runs=5),
    "layer_fwdbwd": dict(kind="layer_fwdbwd", B=8, L=512, warmup=1, runs=5),
    "train_default": dict(kind="train", size="default", B=32, L=64, warmup=10, runs=20),
    "train_paper_b32": dict(kind="train", size="paper", B=32, L=64, warmup=1, runs=5),
    "eval_default_128": dict(kind="eval", size="default", B=128, L=128, stride=32, warmup=2, runs=10),
    "eval_default_512": dict(kind="eval", size="default", B=32, L=512, stride=32, warmup=2, runs=10),
    "eval_4096": dict(kind="eval", L=4096, warmup=1, runs=3),
    "eval_16384": dict(kind="eval", L=16384, warmup=0, runs=1),
}


# --------------------------------------------------------------------------
# The model, plainly
# --------------------------------------------------------------------------

def infoscale_factor(n, n0, d):
    """InfoScale's c(n) = sqrt(1 - n^(-2/d)) / sqrt(1 - n0^(-2/d))."""
    return math.sqrt(1.0 - n ** (-2.0 / d)) / math.sqrt(1.0 - n0 ** (-2.0 / d))


def rope_tables(L, d, base=10000.0):
    """cos and sin of p*theta_i, [L, d/2] each (computed once per model, as
    a registered buffer would be)."""
    theta = base ** (-2.0 * torch.arange(d // 2, dtype=torch.float64) / d)
    ang = torch.arange(L, dtype=torch.float64)[:, None] * theta[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def rope(x, cos, sin):
    """RoPE with concatenated halves: the even and odd coordinates rotated
    in pairs, written as [even'; odd']."""
    xe, xo = x[..., 0::2], x[..., 1::2]
    return torch.cat([xe * cos - xo * sin, xe * sin + xo * cos], dim=-1)


def norm(x):
    """GAU-alpha's Norm: x / sqrt(mean(x^2) + 1e-12)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + EPS_NORM)


def attention(v, z, gq, gk, cos, sin, scale, key_mask=None, p_drop=0.0, training=False):
    """O = softmax(scale * RoPE(z*gq) RoPE(z*gk)^T) v, with an optional
    key padding mask [B, L] and dropout on the probabilities."""
    q = rope(z * gq, cos, sin)
    k = rope(z * gk, cos, sin)
    a = torch.matmul(q, k.transpose(-1, -2)) * scale
    if key_mask is not None:
        a = a.masked_fill(~key_mask[:, None, :], float("-inf"))
    A = torch.softmax(a, dim=-1)
    A = F.dropout(A, p_drop, training)
    return torch.matmul(A, v)


def gau_layer(h, w, cos, sin, scale, key_mask=None, p_drop=0.0, training=False):
    """h' = Norm(h + dropout(W_o (u * attention))), [u|v|z] = silu(h W_i^T)."""
    e, d = w["o"].shape[1], w["gq"].shape[0]
    x = F.silu(F.linear(h, w["i"]))
    u, v, z = torch.split(x, [e, e, d], dim=-1)
    o = attention(v, z, w["gq"], w["gk"], cos, sin, scale, key_mask, p_drop, training)
    y = F.dropout(F.linear(u * o, w["o"]), p_drop, training)
    return norm(h + y)


def layer_weights(hidden, inter, key, gen, grad=False):
    w = {
        "i": torch.randn(2 * inter + key, hidden, generator=gen) * 0.02,
        "o": torch.randn(hidden, inter, generator=gen) * 0.02,
        "gq": torch.ones(key),
        "gk": torch.ones(key),
    }
    for t in w.values():
        t.requires_grad_(grad)
    return w


class Model:
    """The GAU-alpha masked LM: embeddings, Norm, the GAU layers, and the
    tied MLM head on the selected rows only."""

    def __init__(self, size, L, gen, grad=False):
        self.h, self.e, self.d = size["hidden"], size["inter"], size["key"]
        self.vocab, self.n0 = size["vocab"], size["n0"]
        self.word = (torch.randn(self.vocab, self.h, generator=gen) * 0.02).requires_grad_(grad)
        self.types = (torch.randn(2, self.h, generator=gen) * 0.02).requires_grad_(grad)
        self.layers = [layer_weights(self.h, self.e, self.d, gen, grad) for _ in range(size["layers"])]
        self.cos, self.sin = rope_tables(L, self.d)

    def params(self):
        ps = [self.word, self.types]
        for w in self.layers:
            ps += [w["i"], w["o"], w["gq"], w["gk"]]
        return ps

    def forward(self, ids, types, select, scale, key_mask=None, p_drop=0.0, training=False):
        h = self.word[ids] + self.types[types]
        h = F.dropout(norm(h), p_drop, training)
        for w in self.layers:
            h = gau_layer(h, w, self.cos, self.sin, scale, key_mask, p_drop, training)
        hs = h.reshape(-1, self.h)[select]
        return hs @ self.word.t()


# --------------------------------------------------------------------------
# Cases: each returns a function running one timed step
# --------------------------------------------------------------------------

def case_attn(c, gen, backward):
    L, e, d = c["L"], PAPER["inter"], PAPER["key"]
    scale = infoscale_factor(L, PAPER["n0"], d) / math.sqrt(d)
    X = torch.randn(1, L, 2 * e + d, generator=gen)
    X[..., 2 * e:] *= 0.3  # moderate logits, like a trained model's
    X.requires_grad_(backward)
    gq = torch.ones(d, requires_grad=backward)
    gk = torch.ones(d, requires_grad=backward)
    cos, sin = rope_tables(L, d)

    def fwd():
        _, v, z = torch.split(X, [e, e, d], dim=-1)
        return attention(v, z, gq, gk, cos, sin, scale)

    if not backward:
        def step():
            with torch.no_grad():
                fwd()
        return step
    O = fwd()
    dO = torch.randn(O.shape, generator=gen)

    def step():
        torch.autograd.grad(O, (X, gq, gk), dO, retain_graph=True)
    return step


def case_layer(c, gen, backward):
    B, L = c["B"], c["L"]
    h_, e, d = PAPER["hidden"], PAPER["inter"], PAPER["key"]
    w = layer_weights(h_, e, d, gen, grad=backward)
    cos, sin = rope_tables(L, d)
    scale = 1 / math.sqrt(d)
    h = torch.randn(B, L, h_, generator=gen).requires_grad_(backward)
    if not backward:
        def step():
            with torch.no_grad():
                gau_layer(h, w, cos, sin, scale)
        return step
    r = torch.randn(B, L, h_, generator=gen)
    wrt = [h, w["i"], w["o"], w["gq"], w["gk"]]

    def step():
        out = gau_layer(h, w, cos, sin, scale)
        torch.autograd.grad(out, wrt, r)
    return step


def case_train(c, gen, vocab):
    size = dict(PAPER if c["size"] == "paper" else DEFAULT)
    if vocab:
        size["vocab"] = vocab
    B, L = c["B"], c["L"]
    m = Model(size, L, gen, grad=True)
    decay = [p for p in m.params() if p.dim() > 1]
    keep = [p for p in m.params() if p.dim() == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": keep, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    per = math.ceil(0.15 * (L - 2))  # head rows per sequence (train.HeadRows)
    scale = 1 / math.sqrt(size["key"])

    def batch():
        # A masked-LM batch: random tokens, [CLS] ... [SEP], 15% of the
        # inner positions selected for the head, targets their tokens.
        ids = torch.randint(5, size["vocab"], (B, L), generator=gen)
        ids[:, 0], ids[:, -1] = 2, 3
        types = torch.zeros(B, L, dtype=torch.long)
        mask = torch.ones(B, L, dtype=torch.bool)
        pos = torch.stack([torch.randperm(L - 2, generator=gen)[:per] + 1 for _ in range(B)])
        select = (torch.arange(B)[:, None] * L + pos).reshape(-1)
        targets = ids.reshape(-1)[select].clone()
        ids.reshape(-1)[select] = 4  # [MASK]
        return ids, types, mask, select, targets

    def step():
        ids, types, mask, select, targets = batch()
        logits = m.forward(ids, types, select, scale, mask, 0.1, True)
        loss = F.cross_entropy(logits, targets, ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.params(), 1.0)
        opt.step()
    return step


def case_eval(c, gen, vocab):
    size = dict(PAPER if c.get("size", "paper") == "paper" else DEFAULT)
    if vocab and c.get("size") == "default":
        size["vocab"] = vocab
    B, L = c.get("B", 1), c["L"]
    m = Model(size, L, gen, grad=False)
    scale = infoscale_factor(L, size["n0"], size["key"]) / math.sqrt(size["key"])
    ids = torch.randint(5, size["vocab"], (B, L), generator=gen)
    # One [MASK] in the middle, or (stride) every stride-th token from
    # stride/2, as the Go case masks them.
    stride = c.get("stride", 0)
    pos = list(range(stride // 2, L, stride)) if stride else [L // 2]
    ids[:, pos] = 4
    types = torch.zeros(B, L, dtype=torch.long)
    select = (torch.arange(B)[:, None] * L + torch.tensor(pos)[None, :]).reshape(-1)

    def step():
        with torch.no_grad():
            m.forward(ids, types, select, scale)
    return step


def build(name, c, gen, vocab):
    k = c["kind"]
    if k == "idle":
        return lambda: None
    if k in ("attn_fwd", "attn_bwd"):
        return case_attn(c, gen, k == "attn_bwd")
    if k in ("layer_fwd", "layer_fwdbwd"):
        return case_layer(c, gen, k == "layer_fwdbwd")
    if k == "train":
        return case_train(c, gen, vocab)
    if k == "eval":
        return case_eval(c, gen, vocab)
    raise SystemExit(f"bench_torch: case {name}: unknown kind {k}")


def check_reference():
    """Checks this file's layer and model against the float64 reference
    vectors (testdata/reference/gau_vectors.json, which the Go model also
    matches) for RoPE with softmax and InfoScale, CosScale off; returns the
    largest absolute difference."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "testdata", "reference", "gau_vectors.json")) as f:
        cases = json.load(f)["cases"]

    def T(t):
        return torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])

    worst, n = 0.0, 0
    for c in cases:
        k = c["config"]
        if k["method"] != "rope" or k["cosscale"] or k["normalization"] not in ("softmax", "infoscale"):
            continue
        W = {name: T(t) for name, t in c["weights"].items()}
        B, L, d = c["batch"], c["seq_len"], k["attention_key_size"]
        valid = c["valid_len"]
        mask = torch.tensor([[i < v for i in range(L)] for v in valid])
        fac = [1.0 if k["normalization"] == "softmax" else infoscale_factor(v, k["train_length"], d) for v in valid]
        scale = torch.tensor(fac, dtype=torch.float64).view(B, 1, 1) / math.sqrt(d)
        theta = 10000.0 ** (-2.0 * torch.arange(d // 2, dtype=torch.float64) / d)
        ang = torch.arange(L, dtype=torch.float64)[:, None] * theta[None, :]
        cos, sin = torch.cos(ang), torch.sin(ang)

        def lw(i):
            p = f"gau_alpha.encoder.layer.{i}.gau."
            return {"i": W[p + "i_dense.weight"], "o": W[p + "o_dense.weight"],
                    "gq": W[p + "q_scaleoffset.weight"], "gk": W[p + "k_scaleoffset.weight"]}
        if c["kind"] == "layer":
            out = gau_layer(T(c["input"]).reshape(B, L, -1), lw(0), cos, sin, scale, mask)
            diff = (out - T(c["output"]).reshape(out.shape))[mask].abs().max()
        else:
            m = Model.__new__(Model)
            m.h, m.cos, m.sin = k["hidden_size"], cos, sin
            m.word = W["gau_alpha.embeddings.word_embeddings.weight"]
            m.types = W["gau_alpha.embeddings.token_type_embeddings.weight"]
            m.layers = [lw(i) for i in range(k["num_hidden_layers"])]
            ids = torch.tensor(c["input_ids"])
            select = torch.tensor([b * L + p for b, p in c["mlm_positions"]])
            logits = m.forward(ids, torch.zeros_like(ids), select, scale, mask)
            diff = (logits - T(c["logits"]).reshape(logits.shape)).abs().max()
        worst, n = max(worst, float(diff)), n + 1
    return worst, n


def peak_rss_bytes():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", help="case name (--list shows them)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (and OMP/OpenBLAS)")
    ap.add_argument("--warmup", type=int, default=-1, help="warm-up runs (default: the case's)")
    ap.add_argument("--runs", type=int, default=0, help="timed runs (default: the case's)")
    ap.add_argument("--vocab", type=int, default=0, help="vocabulary size of the default-size model")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--list", action="store_true", help="list the cases")
    ap.add_argument("--check", action="store_true",
                    help="check the math against testdata/reference (float64) and exit")
    a = ap.parse_args()
    if a.list:
        print("\n".join(CASES))
        return
    if a.check:
        worst, n = check_reference()
        print(f"bench_torch: {n} reference cases, largest difference {worst:.3g}")
        if n == 0 or worst > 1e-10:
            raise SystemExit("bench_torch: does not match the reference vectors")
        return
    if a.case not in CASES:
        raise SystemExit(f"bench_torch: unknown case {a.case!r} (known: {', '.join(CASES)})")
    c = CASES[a.case]
    torch.set_num_threads(a.threads)
    torch.set_grad_enabled(True)
    gen = torch.Generator().manual_seed(1)
    step = build(a.case, c, gen, a.vocab)
    warm = c["warmup"] if a.warmup < 0 else a.warmup
    runs = a.runs or c["runs"]
    for _ in range(warm):
        step()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    out = {
        "case": a.case,
        "seconds": statistics.median(times),
        "times": times,
        "warmup": warm,
        "runs": runs,
        "peak_rss_bytes": peak_rss_bytes(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if a.json:
        print(json.dumps(out))
    else:
        print(f"{a.case}: {out['seconds']:.4f} s (median of {runs} after {warm} warm-up), "
              f"peak RSS {out['peak_rss_bytes'] / 2**20:.0f} MiB, {out['threads']} threads, torch {out['torch']}")


if __name__ == "__main__":
    main()
