#!/usr/bin/env python3
"""Independent float64 PyTorch reference for the GAU-alpha model math.

Written directly from the formulas in docs/reference-vectors.md (not from the
Go code). Regenerate with:

    /usr/bin/python3 scripts/torch_reference.py

It reads the positional methods' properties (rotation, mask, sinks, clamped
far pairs, bias, PoSE positions) from testdata/methods.json, the export of the
table in attn/methods.go (go test ./attn checks that it is current), and
writes testdata/reference/gau_vectors.json and testdata/reference/factors.json.
Output is deterministic: each case draws from its own seeded torch.Generator
and the JSON is written with Python's shortest round-trip float repr.
"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "testdata", "reference")

EPS_NORM = 1e-12
EPS_COS = 1e-9

# Tiny sizes used by all cases.
TINY = dict(h=16, e=24, d=8, V=40, N=2, B=2, L=12, valid=[12, 9], n0=8, W=3, w=4)

NORMALIZATIONS = ["softmax", "softmax_plus", "infoscale"]

with open(os.path.join(ROOT, "testdata", "methods.json")) as _f:
    METHODS = {m["name"]: m for m in json.load(_f)["methods"]}
OTHER_METHODS = [name for name in METHODS if name != "rope"]

CLS, SEP, PAD = 2, 3, 0


# --------------------------------------------------------------------------
# Scalars: normalisation factors and RoPE frequencies
# --------------------------------------------------------------------------

def infoscale_factor(n, n0, d):
    return math.sqrt(1.0 - n ** (-2.0 / d)) / math.sqrt(1.0 - n0 ** (-2.0 / d))


def softmax_plus_factor(n, base=512):
    return math.log(n) / math.log(base)


def norm_factor(cfg, n):
    kind = cfg["normalization"]
    if kind == "softmax":
        return 1.0
    if kind == "softmax_plus":
        return softmax_plus_factor(n, cfg["softmax_plus_base"])
    if kind == "infoscale":
        return infoscale_factor(n, cfg["train_length"], cfg["attention_key_size"])
    raise ValueError(kind)


def length_scale(L, n0):
    return max(1.0, L / n0)


def yarn_bounds(d, n0, base, beta_fast, beta_slow):
    def corr(r):
        return d * math.log(n0 / (r * 2.0 * math.pi)) / (2.0 * math.log(base))
    low = max(math.floor(corr(beta_fast)), 0)
    high = min(math.ceil(corr(beta_slow)), d - 1)
    if low == high:
        high += 0.001
    return low, high


def rope_theta(method, d, n0, L, base=10000.0, beta_fast=32, beta_slow=1):
    """Per-pair frequencies theta'_i (i = 0..d/2-1) as a list of floats, and
    the logit multiplier m."""
    s = length_scale(L, n0)
    half = d // 2
    m = 1.0
    rotation = METHODS[method]["rotation"]
    if rotation == "ntk":
        base = base * s ** (d / (d - 2.0))
    theta = [base ** (-2.0 * i / d) for i in range(half)]
    if rotation == "interpolated":
        if L > n0:
            theta = [t * n0 / L for t in theta]
    elif rotation == "yarn":
        low, high = yarn_bounds(d, n0, base, beta_fast, beta_slow)
        out = []
        for i, t in enumerate(theta):
            ramp = min(max((i - low) / (high - low), 0.0), 1.0)
            keep = 1.0 - ramp
            out.append((t / s) * (1.0 - keep) + t * keep)
        theta = out
        m = (0.1 * math.log(s) + 1.0) ** 2
    elif rotation not in ("rope", "ntk", "none"):
        raise ValueError(method)
    return theta, m


# --------------------------------------------------------------------------
# Tensor math
# --------------------------------------------------------------------------

def rms_norm(x):
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + EPS_NORM)


def swish(x):
    return x * torch.sigmoid(x)


def rotate(x, pos, theta):
    """R(p) x with concatenated halves.

    x: [..., L, d]; pos: tensor broadcastable to x.shape[:-1] (float);
    theta: [d/2] tensor."""
    ang = pos.unsqueeze(-1) * theta
    cos, sin = torch.cos(ang), torch.sin(ang)
    xe, xo = x[..., 0::2], x[..., 1::2]
    return torch.cat([xe * cos - xo * sin, xe * sin + xo * cos], dim=-1)


def method_keep_mask(cfg, L):
    """[L, L] bool: True where the method keeps the pair (i, j)."""
    i = torch.arange(L).unsqueeze(1)
    j = torch.arange(L).unsqueeze(0)
    dist = (i - j).abs()
    n0 = cfg["train_length"]
    spec = METHODS[cfg["method"]]
    if spec["mask"] == "local":
        S = spec["sinks"]
        return (dist <= n0 - 1) | (j < S) | (i < S)
    if spec["mask"] == "windowed":
        return dist <= cfg["window"]
    return torch.ones(L, L, dtype=torch.bool)


def far_window(cfg):
    """The distance from which a kept pair uses the clamped rotation, or None."""
    far = METHODS[cfg["method"]]["far"]
    if far == "rerope_window":
        return cfg["rerope_window"]
    if far == "train_length":
        return cfg["train_length"]
    return None


def gau_layer(H, p, cfg, valid_len, position_ids=None, want=None):
    """One GAU layer. H: [B, L, h]. p: dict with i_dense [2e+d, h],
    o_dense [h, e], q_scale [d], k_scale [d]. Returns (H', A)."""
    B, L, _ = H.shape
    e = cfg["intermediate_size"]
    d = cfg["attention_key_size"]
    n0 = cfg["train_length"]
    meth = cfg["method"]

    X = swish(H @ p["i_dense"].t())
    u, v, z = X[..., :e], X[..., e:2 * e], X[..., 2 * e:]
    q = z * p["q_scale"]
    k = z * p["k_scale"]
    s = cfg["cosscale"]
    if s > 0:
        q = q / (q.norm(dim=-1, keepdim=True) + EPS_COS)
        k = k / (k.norm(dim=-1, keepdim=True) + EPS_COS)
        q = q * (s * math.sqrt(d))
    if want is not None:
        want["q_pre"], want["k_pre"] = q, k

    theta_list, m = rope_theta(meth, d, n0, L, cfg["rope_base"],
                               cfg["yarn_beta_fast"], cfg["yarn_beta_slow"])
    theta = torch.tensor(theta_list)
    if position_ids is not None:
        pos = torch.tensor(position_ids, dtype=torch.float64)  # [B, L]
    else:
        pos = torch.arange(L, dtype=torch.float64).expand(B, L)

    ii = torch.arange(L).unsqueeze(1)
    jj = torch.arange(L).unsqueeze(0)
    rel = ii - jj  # i - j

    spec = METHODS[meth]
    if spec["rotation"] == "none":
        S = q @ k.transpose(-1, -2)
    else:
        qr = rotate(q, pos, theta)
        kr = rotate(k, pos, theta)
        S = qr @ kr.transpose(-1, -2)
        if spec["far"] != "none":
            lim = far_window(cfg)
            c = lim - 1
            zero = torch.zeros(B, L)
            cpos = torch.full((B, L), float(c))
            q0, qc = rotate(q, zero, theta), rotate(q, cpos, theta)
            k0, kc = rotate(k, zero, theta), rotate(k, cpos, theta)
            behind = qc @ k0.transpose(-1, -2)   # j < i: distance +c
            ahead = q0 @ kc.transpose(-1, -2)    # j > i: distance -c
            clamped = torch.where(rel > 0, behind, ahead)
            S = torch.where(rel.abs() >= lim, clamped, S)
    S = m * S
    if spec["bias"]:
        S = S - cfg["alibi_slope"] * rel.abs().to(torch.float64)
    if want is not None:
        want["scores"] = S

    cfac = torch.tensor([norm_factor(cfg, n) for n in valid_len]).view(B, 1, 1)
    logits = cfac * S / math.sqrt(d)

    keep = method_keep_mask(cfg, L).unsqueeze(0).expand(B, L, L).clone()
    for b, n in enumerate(valid_len):
        keep[b, :, n:] = False
    assert keep.any(dim=-1).all(), "a row has no unmasked key"
    logits = logits.masked_fill(~keep, float("-inf"))
    A = torch.softmax(logits, dim=-1)
    if want is not None:
        want["logits"], want["keep"] = logits, keep

    O = A @ v
    Y = u * O
    out = Y @ p["o_dense"].t()
    return rms_norm(H + out), A


def model_forward(ids, W, cfg, valid_len, position_ids=None):
    x = W["word"][ids] + W["type"][torch.zeros_like(ids)]
    H = rms_norm(x)
    for layer in W["layers"]:
        H, _ = gau_layer(H, layer, cfg, valid_len, position_ids)
    return H


# --------------------------------------------------------------------------
# Case construction
# --------------------------------------------------------------------------

def make_config(norm, cos, method, n0=TINY["n0"]):
    return {
        "hidden_size": TINY["h"],
        "intermediate_size": TINY["e"],
        "attention_key_size": TINY["d"],
        "vocab_size": TINY["V"],
        "num_hidden_layers": TINY["N"],
        "normalization": norm,
        "softmax_plus_base": 512,
        "train_length": n0,
        "cosscale": cos,
        "rope_base": 10000,
        "method": method,
        "window": TINY["W"],
        "rerope_window": TINY["w"],
        "alibi_slope": 2.0 ** -8,
        "yarn_beta_fast": 32,
        "yarn_beta_slow": 1,
    }


def tensor_json(t):
    t = t.detach().contiguous()
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def layer_names(i):
    pre = "gau_alpha.encoder.layer.%d.gau." % i
    return {
        "i_dense": pre + "i_dense.weight",
        "o_dense": pre + "o_dense.weight",
        "q_scale": pre + "q_scaleoffset.weight",
        "k_scale": pre + "k_scaleoffset.weight",
    }


def init_layer(gen, cfg):
    h, e, d = cfg["hidden_size"], cfg["intermediate_size"], cfg["attention_key_size"]
    return {
        "i_dense": (0.3 * torch.randn(2 * e + d, h, generator=gen)).requires_grad_(),
        "o_dense": (0.3 * torch.randn(h, e, generator=gen)).requires_grad_(),
        "q_scale": (1.0 + 0.1 * torch.randn(d, generator=gen)).requires_grad_(),
        "k_scale": (1.0 + 0.1 * torch.randn(d, generator=gen)).requires_grad_(),
    }


def pose_position_ids(gen, B, L):
    """Increasing, non-contiguous ids: each sequence is split into two chunks
    and the second chunk is shifted by a random skip."""
    rows = []
    for _ in range(B):
        cut = int(torch.randint(2, L - 2, (1,), generator=gen))
        skip = int(torch.randint(3, 20, (1,), generator=gen))
        rows.append([p if p < cut else p + skip for p in range(L)])
    return rows


def build_layer_case(name, seed, cfg, L, valid):
    gen = torch.Generator().manual_seed(seed)
    B = len(valid)
    h = cfg["hidden_size"]
    p = init_layer(gen, cfg)
    H = torch.randn(B, L, h, generator=gen).requires_grad_()
    R = torch.randn(B, L, h, generator=gen)
    pos_ids = pose_position_ids(gen, B, L) if METHODS[cfg["method"]]["skip_positions"] else None

    want = {}
    out, A = gau_layer(H, p, cfg, valid, pos_ids, want)
    check_layer_math(cfg, p, H, valid, pos_ids, want, A)
    loss = (out * R).sum()
    params = [H] + [p[k] for k in ("i_dense", "o_dense", "q_scale", "k_scale")]
    grads = torch.autograd.grad(loss, params)
    names = layer_names(0)
    weights = {names[k]: tensor_json(p[k]) for k in ("i_dense", "o_dense", "q_scale", "k_scale")}
    gj = {"input": tensor_json(grads[0])}
    for k, g in zip(("i_dense", "o_dense", "q_scale", "k_scale"), grads[1:]):
        gj[names[k]] = tensor_json(g)
    return {
        "name": name, "kind": "layer", "seed": seed, "config": cfg,
        "batch": B, "seq_len": L, "valid_len": list(valid), "position_ids": pos_ids,
        "weights": weights,
        "input": tensor_json(H), "cotangent": tensor_json(R),
        "output": tensor_json(out), "attention": tensor_json(A),
        "loss": loss.item(), "grads": gj,
    }


def build_model_case(name, seed, cfg, L, valid, n_mlm=3):
    gen = torch.Generator().manual_seed(seed)
    B = len(valid)
    h, V = cfg["hidden_size"], cfg["vocab_size"]
    word = (0.3 * torch.randn(V, h, generator=gen)).requires_grad_()
    ttype = (0.3 * torch.randn(2, h, generator=gen)).requires_grad_()
    layers = [init_layer(gen, cfg) for _ in range(cfg["num_hidden_layers"])]
    ids = torch.full((B, L), PAD, dtype=torch.long)
    mlm_pos, mlm_tgt = [], []
    for b, n in enumerate(valid):
        ids[b, 0] = CLS
        ids[b, 1:n - 1] = torch.randint(4, V, (n - 2,), generator=gen)
        ids[b, n - 1] = SEP
        perm = torch.randperm(n - 2, generator=gen)[:n_mlm] + 1
        for q in sorted(perm.tolist()):
            mlm_pos.append([b, q])
        mlm_tgt += torch.randint(4, V, (n_mlm,), generator=gen).tolist()
    pos_ids = pose_position_ids(gen, B, L) if METHODS[cfg["method"]]["skip_positions"] else None

    W = {"word": word, "type": ttype, "layers": layers}
    Hf = model_forward(ids, W, cfg, valid, pos_ids)
    sel = Hf[[bp[0] for bp in mlm_pos], [bp[1] for bp in mlm_pos]]  # [M, h]
    logits = sel @ word.t()
    loss = F.cross_entropy(logits, torch.tensor(mlm_tgt))

    params = [word, ttype]
    names = ["gau_alpha.embeddings.word_embeddings.weight",
             "gau_alpha.embeddings.token_type_embeddings.weight"]
    for i, layer in enumerate(layers):
        ln = layer_names(i)
        for k in ("i_dense", "o_dense", "q_scale", "k_scale"):
            params.append(layer[k])
            names.append(ln[k])
    grads = torch.autograd.grad(loss, params)
    check_tied_gradient(ids, W, cfg, valid, pos_ids, mlm_pos, mlm_tgt, grads[0])
    return {
        "name": name, "kind": "model", "seed": seed, "config": cfg,
        "batch": B, "seq_len": L, "valid_len": list(valid), "position_ids": pos_ids,
        "weights": {n: tensor_json(t) for n, t in zip(names, params)},
        "input_ids": ids.tolist(), "mlm_positions": mlm_pos, "mlm_targets": mlm_tgt,
        "hidden": tensor_json(Hf), "logits": tensor_json(logits),
        "loss": loss.item(),
        "grads": {n: tensor_json(g) for n, g in zip(names, grads)},
    }


# --------------------------------------------------------------------------
# Self-checks
# --------------------------------------------------------------------------

def close(a, b, tol=1e-10):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def check_factor_table():
    table = [(64, 1.000000, 0.666667), (128, 1.077237, 0.777778),
             (256, 1.148543, 0.888889), (512, 1.214970, 1.000000),
             (1024, 1.277288, 1.111111), (2048, 1.336077, 1.222222),
             (4096, 1.391792, 1.333333), (16384, 1.495378, 1.555556)]
    for n, inf, sp in table:
        a, b = infoscale_factor(n, 64, 128), softmax_plus_factor(n)
        assert abs(a - inf) <= 5e-7, (n, a, inf)
        assert abs(b - sp) <= 5e-7, (n, b, sp)


def check_rope_relative():
    """With equal q (and equal k) at every position, q~_i . k~_j must depend
    only on i - j, for every rotating method's frequency table."""
    gen = torch.Generator().manual_seed(7)
    d, L = 8, 12
    q = torch.randn(d, generator=gen).expand(L, d)
    k = torch.randn(d, generator=gen).expand(L, d)
    pos = torch.arange(L, dtype=torch.float64)
    for meth in ("rope", "pi", "ntk", "yarn"):
        theta = torch.tensor(rope_theta(meth, d, 8, L)[0])
        S = rotate(q, pos, theta) @ rotate(k, pos, theta).t()
        for i in range(L):
            for j in range(L):
                ref = S[i - j, 0] if i >= j else S[0, j - i]
                assert close(S[i, j].item(), ref.item(), 1e-12), (meth, i, j)
    # R(p) is orthogonal, R(0) is the concatenated re-ordering
    theta = torch.tensor(rope_theta("rope", d, 8, L)[0])
    x = torch.randn(d, generator=gen)
    assert torch.allclose(rotate(x, torch.tensor(0.0), theta),
                          torch.cat([x[0::2], x[1::2]]), atol=0, rtol=0)
    for p in (1.0, 5.0, 11.0):
        y = rotate(x, torch.tensor(p), theta)
        assert close(y.norm().item(), x.norm().item(), 1e-12)
    # clamped rule: (R(c) q).(R(0) k) equals the normal logit at i - j = c
    c = 3.0
    qa, ka = torch.randn(d, generator=gen), torch.randn(d, generator=gen)
    lhs = rotate(qa, torch.tensor(c), theta) @ rotate(ka, torch.tensor(0.0), theta)
    rhs = rotate(qa, torch.tensor(10.0 + c), theta) @ rotate(ka, torch.tensor(10.0), theta)
    assert close(lhs.item(), rhs.item(), 1e-12)
    # yarn with s = 1 is rope; pi/ntk with L <= n0 are rope
    for meth in ("yarn", "pi", "ntk"):
        t, m = rope_theta(meth, 128, 64, 64)
        t0, _ = rope_theta("rope", 128, 64, 64)
        assert m == 1.0 and all(close(a, b, 1e-15) for a, b in zip(t, t0)), meth


def check_layer_math(cfg, p, H, valid, pos_ids, want, A):
    # attention rows sum to 1 and vanish where masked
    sums = A.sum(dim=-1)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-12), "row sums"
    assert (A[~want["keep"]] == 0).all(), "masked entries non-zero"
    ref = brute_attention(cfg, want["q_pre"].tolist(), want["k_pre"].tolist(),
                          valid, pos_ids)
    assert torch.allclose(A, ref, atol=1e-12, rtol=0), "brute-force attention"
    s = cfg["cosscale"]
    d = cfg["attention_key_size"]
    if s > 0:
        # pre-rotation: q.k / sqrt(d) == s * cos(z*gq, z*gk)
        X = swish(H @ p["i_dense"].t())
        z = X[..., 2 * cfg["intermediate_size"]:]
        qz, kz = z * p["q_scale"], z * p["k_scale"]
        cos = (qz @ kz.transpose(-1, -2)) / (
            qz.norm(dim=-1).unsqueeze(-1) * kz.norm(dim=-1).unsqueeze(-2))
        got = want["q_pre"] @ want["k_pre"].transpose(-1, -2) / math.sqrt(d)
        assert torch.allclose(got, s * cos, atol=1e-7), "cosscale pre-rotation"
        if cfg["method"] == "rope":
            # rotation is orthogonal: the rope logits are s * cos(q~, k~)
            c = torch.tensor([norm_factor(cfg, n) for n in valid]).view(-1, 1, 1)
            lg = want["scores"] * c / math.sqrt(d)
            assert (lg.abs() <= s * c + 1e-7).all(), "cosscale bound"


def brute_attention(cfg, q_pre, k_pre, valid, pos_ids):
    """Scalar, loop-based re-derivation of A straight from the spec (pure
    Python floats), used to cross-check the vectorised gau_layer."""
    d, n0, meth = cfg["attention_key_size"], cfg["train_length"], cfg["method"]
    spec = METHODS[meth]
    B, L = len(q_pre), len(q_pre[0])
    theta, m = rope_theta(meth, d, n0, L, cfg["rope_base"],
                          cfg["yarn_beta_fast"], cfg["yarn_beta_slow"])

    def rot(x, p):
        ev = [x[2 * t] * math.cos(p * theta[t]) - x[2 * t + 1] * math.sin(p * theta[t])
              for t in range(d // 2)]
        od = [x[2 * t] * math.sin(p * theta[t]) + x[2 * t + 1] * math.cos(p * theta[t])
              for t in range(d // 2)]
        return ev + od

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b))

    out = []
    for b in range(B):
        n = valid[b]
        c = norm_factor(cfg, n)
        rows = []
        for i in range(L):
            lg = []
            for j in range(L):
                dist = abs(i - j)
                keep = j < n
                if spec["mask"] == "local":
                    S = spec["sinks"]
                    keep = keep and (dist <= n0 - 1 or j < S or i < S)
                elif spec["mask"] == "windowed":
                    keep = keep and dist <= cfg["window"]
                if not keep:
                    lg.append(None)
                    continue
                qi, kj = q_pre[b][i], k_pre[b][j]
                bias = -cfg["alibi_slope"] * dist if spec["bias"] else 0.0
                if spec["rotation"] == "none":
                    sc = dot(qi, kj)
                else:
                    lim = far_window(cfg)
                    if lim is not None and dist >= lim:
                        cl = lim - 1
                        if j < i:
                            sc = dot(rot(qi, cl), rot(kj, 0))
                        else:
                            sc = dot(rot(qi, 0), rot(kj, cl))
                    else:
                        pi_ = pos_ids[b][i] if pos_ids else i
                        pj_ = pos_ids[b][j] if pos_ids else j
                        sc = dot(rot(qi, pi_), rot(kj, pj_))
                lg.append(c * (m * sc + bias) / math.sqrt(d))
            mx = max(x for x in lg if x is not None)
            ex = [0.0 if x is None else math.exp(x - mx) for x in lg]
            tot = sum(ex)
            rows.append([x / tot for x in ex])
        out.append(rows)
    return torch.tensor(out)


def check_tied_gradient(ids, W, cfg, valid, pos_ids, mlm_pos, mlm_tgt, g_word):
    """The tied word-embedding gradient is the sum of the input-embedding use
    and the decoder use: verify by untying into two copies."""
    w_in = W["word"].detach().clone().requires_grad_()
    w_out = W["word"].detach().clone().requires_grad_()
    W2 = {"word": w_in, "type": W["type"], "layers": W["layers"]}
    Hf = model_forward(ids, W2, cfg, valid, pos_ids)
    sel = Hf[[bp[0] for bp in mlm_pos], [bp[1] for bp in mlm_pos]]
    loss = F.cross_entropy(sel @ w_out.t(), torch.tensor(mlm_tgt))
    gi, go = torch.autograd.grad(loss, [w_in, w_out])
    assert torch.allclose(gi + go, g_word, atol=1e-13), "tied gradient"


def check_gradcheck():
    """Autograd gradients of one layer against finite differences."""
    for meth, norm, cos in (("rerope", "infoscale", 4), ("lminfinite", "softmax_plus", 0),
                            ("alibi", "softmax", 4), ("window", "infoscale", 0)):
        cfg = make_config(norm, cos, meth)
        gen = torch.Generator().manual_seed(11)
        p = init_layer(gen, cfg)
        H = torch.randn(2, 12, cfg["hidden_size"], generator=gen).requires_grad_()
        keys = ("i_dense", "o_dense", "q_scale", "k_scale")

        def f(H, a, b, c, e):
            pp = dict(zip(keys, (a, b, c, e)))
            return gau_layer(H, pp, cfg, [12, 9])[0]
        assert torch.autograd.gradcheck(f, (H,) + tuple(p[k] for k in keys)), meth


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

def case_list():
    """(kind, name, config, L, valid) in a fixed order; seed = base + index."""
    L, valid = TINY["L"], TINY["valid"]
    Llong, vlong = 24, [24, 17]
    out = []
    for norm in NORMALIZATIONS:
        for cos in (0, 4):
            out.append(("layer", "layer_rope_%s_cos%d" % (norm, cos),
                        make_config(norm, cos, "rope"), L, valid))
    for meth in OTHER_METHODS:
        for norm, cos in (("softmax", 0), ("infoscale", 4)):
            out.append(("layer", "layer_%s_%s_cos%d" % (meth, norm, cos),
                        make_config(norm, cos, meth), L, valid))
    # With n0 = 8 and L = 12, the local masks (StreamingLLM, LM-Infinite)
    # remove no pair beyond padding; these longer cases exercise them.
    for meth in [m for m in OTHER_METHODS if METHODS[m]["mask"] == "local"]:
        for norm, cos in (("softmax", 0), ("infoscale", 4)):
            out.append(("layer", "layer_%s_%s_cos%d_L24" % (meth, norm, cos),
                        make_config(norm, cos, meth), Llong, vlong))
    for norm in NORMALIZATIONS:
        for cos in (0, 4):
            out.append(("model", "model_rope_%s_cos%d" % (norm, cos),
                        make_config(norm, cos, "rope"), L, valid))
    out.append(("model", "model_rerope_infoscale_cos0",
                make_config("infoscale", 0, "rerope"), L, valid))
    out.append(("model", "model_alibi_softmax_plus_cos4",
                make_config("softmax_plus", 4, "alibi"), L, valid))
    out.append(("model", "model_pose_infoscale_cos4",
                make_config("infoscale", 4, "pose"), L, valid))
    out.append(("model", "model_lminfinite_infoscale_cos4_L24",
                make_config("infoscale", 4, "lminfinite"), Llong, vlong))
    return out


SEED_BASE = {"layer": 1000, "model": 2000}


def build_cases():
    cases = []
    counters = {"layer": 0, "model": 0}
    for kind, name, cfg, L, valid in case_list():
        seed = SEED_BASE[kind] + counters[kind]
        counters[kind] += 1
        if kind == "layer":
            cases.append(build_layer_case(name, seed, cfg, L, valid))
        else:
            cases.append(build_model_case(name, seed, cfg, L, valid))
    return cases


def build_factors():
    ns = sorted(set([2 ** k for k in range(1, 17)] + [3, 9, 12, 100, 1000, 5000, 12345]))
    norm = []
    for d in (8, 64, 128):
        for n0 in (8, 64):
            for n in ns:
                norm.append({"n": n, "attention_key_size": d, "train_length": n0,
                             "infoscale": infoscale_factor(n, n0, d),
                             "softmax_plus": softmax_plus_factor(n)})
    freqs = []
    d, n0 = 128, 64
    for L in (64, 128, 1024, 4096):
        for meth in ("rope", "pi", "ntk", "yarn"):
            theta, m = rope_theta(meth, d, n0, L)
            entry = {"method": meth, "attention_key_size": d, "train_length": n0,
                     "seq_len": L, "rope_base": 10000, "scale": length_scale(L, n0),
                     "theta": theta, "logit_multiplier": m}
            if meth == "yarn":
                low, high = yarn_bounds(d, n0, 10000.0, 32, 1)
                entry["yarn_low"], entry["yarn_high"] = low, high
            freqs.append(entry)
    yarn_m = [{"seq_len": L, "train_length": n0, "scale": length_scale(L, n0),
               "logit_multiplier": rope_theta("yarn", d, n0, L)[1]}
              for L in (64, 128, 1024, 4096)]
    return {"generator": "scripts/torch_reference.py", "softmax_plus_base": 512,
            "normalization_factors": norm, "rope_frequencies": freqs,
            "yarn_logit_multiplier": yarn_m}


def dump(obj):
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def main():
    check_factor_table()
    check_rope_relative()
    check_gradcheck()
    cases = build_cases()
    os.makedirs(OUT_DIR, exist_ok=True)
    head = {"generator": "scripts/torch_reference.py", "torch_version": torch.__version__}
    text = dump(head)[:-1] + ',"cases":[\n' + ",\n".join(dump(c) for c in cases) + "\n]}\n"
    with open(os.path.join(OUT_DIR, "gau_vectors.json"), "w") as f:
        f.write(text)
    with open(os.path.join(OUT_DIR, "factors.json"), "w") as f:
        f.write(dump(build_factors()) + "\n")
    for c in cases:
        print("%-40s seed=%d loss=%.12g" % (c["name"], c["seed"], c["loss"]), file=sys.stderr)


if __name__ == "__main__":
    main()
