#!/usr/bin/env python3
"""PyTorch side of the GPU check (scripts/gpu-run.sh; docs/gpu-results.md).

On the GPU, the shapes the Go CUDA side times (gpu.TestTimeAttention,
train.TestTimeTrainStep):

  attn_fwd / attn_bwd   GAU attention written plainly in PyTorch eager
                        (bench_torch.attention: ScaleOffset, RoPE, logits,
                        softmax, A.V; no SDPA, no torch.compile), d = 128,
                        d_v = 1536, B = 1 and 8 sequences, L = 4096
                        (--lengths); float32, and bf16 under torch.autocast
  sdpa_fwd / sdpa_bwd   torch.nn.functional.scaled_dot_product_attention at
                        the same shapes (one head, d = 128, d_v = 1536), on
                        the first fused kernel that accepts them (flash,
                        cuDNN, memory-efficient; the backend is recorded),
                        bf16 and float32; where none does, the line says so
  sdpa128_fwd/_bwd      the same at d = d_v = 128, B = 1, bf16: the
                        FlashAttention anchor of what a tuned attention
                        reaches on this GPU
  train_paper           a paper-size training step (6 layers, 768/1536/128,
                        vocabulary 12000, the paper's training shape: batch
                        8, L = 512; dropout 0.1, AdamW, clipping) in eager
                        mode (bench_torch.Model), in float32 and under
                        torch.autocast(bfloat16)

Each case: warm-up runs, then CUDA-event timings of as many runs as fit in
about 0.3 s (3 to 20); the median is reported. TFLOP/s divide
attn_flops (gpu.AttentionFLOPs) by it: forward 2*B*L^2*(d+d_v), backward
2*B*L^2*(3d+2d_v), for every implementation alike.

    python3 scripts/bench_torch_gpu.py            # every case, one line each
    python3 scripts/bench_torch_gpu.py --cases attn_fwd,train_paper --batch 1 --quick
    python3 scripts/bench_torch_gpu.py --time-budget 100   # stop starting cases after 100 s
    python3 scripts/bench_torch_gpu.py --table LOG... [--clocks CSV]   # the results tables (no torch needed)
    python3 scripts/bench_torch_gpu.py --csv LOG...     # every timing line as CSV (no torch needed)

Output lines are "GAUALPHA_TIMING {json}", the format of the Go timing
tests, so that --table reads both. TF32 is off (full float32, as cuBLAS in
the Go side).
"""

import argparse
import csv
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LENGTHS = (4096,)
BATCHES = (1, 8)
PRECISIONS = ("f32", "bf16")
D, DV = 128, 1536
PREFIX = "GAUALPHA_TIMING "
# --smoke (a check of this script on any machine, CPU included: tiny
# sizes, nothing measured) changes these.
DEV = "cuda"
TRAIN = dict(size="paper", B=8, L=512)
CASE_BUDGET_S = 0.3  # timed runs per case: as many as fit, 3 to MAX_RUNS
MAX_RUNS = 20


def emit(obj):
    print(PREFIX + json.dumps(obj), flush=True)


def attn_flops(B, L, d, dv, backward):
    """gpu.AttentionFLOPs: forward 2*B*L^2*(d+dv) (q.k^T, A.V), backward
    2*B*L^2*(3d+2dv) (the logits again, dV, dP, dq, dk)."""
    return 2.0 * B * L * L * ((3 * d + 2 * dv) if backward else (d + dv))


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

def time_cuda(torch, step, warmup, quick):
    """Median milliseconds of step() between CUDA events after warm-up, and
    the number of timed runs: as many as fit in CASE_BUDGET_S (3 to MAX_RUNS)."""
    for _ in range(warmup):
        step()

    if DEV != "cuda":  # --smoke on the CPU: wall clock
        def once():
            t0 = time.perf_counter()
            step()
            return (time.perf_counter() - t0) * 1e3
    else:
        torch.cuda.synchronize()

        def once():
            a = torch.cuda.Event(enable_timing=True)
            b = torch.cuda.Event(enable_timing=True)
            a.record()
            step()
            b.record()
            b.synchronize()
            return a.elapsed_time(b)
    times = [once()]
    runs = 3 if quick else min(MAX_RUNS, max(3, int(CASE_BUDGET_S * 1e3 / max(times[0], 1e-3))))
    while len(times) < runs:
        times.append(once())
    return statistics.median(times), len(times)


def autocast(torch, prec):
    return torch.autocast(device_type=DEV, dtype=torch.bfloat16, enabled=prec == "bf16")


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

def case_attn(torch, bt, B, L, prec, backward, quick):
    dev = DEV
    gen = torch.Generator(device=dev).manual_seed(1)
    e, d = DV, D
    scale = bt.infoscale_factor(L, 64, d) / math.sqrt(d)
    X = torch.randn(B, L, 2 * e + d, generator=gen, device=dev)
    X[..., 2 * e:] *= 0.3  # moderate logits, like a trained model's
    X.requires_grad_(backward)
    gq = (1 + 0.1 * torch.randn(d, generator=gen, device=dev)).requires_grad_(backward)
    gk = (1 + 0.1 * torch.randn(d, generator=gen, device=dev)).requires_grad_(backward)
    cos, sin = (t.to(dev) for t in bt.rope_tables(L, d))

    def fwd():
        with autocast(torch, prec):
            _, v, z = torch.split(X, [e, e, d], dim=-1)
            return bt.attention(v, z, gq, gk, cos, sin, scale)

    if backward:
        O = fwd()
        dO = torch.randn(O.shape, generator=gen, device=dev).to(O.dtype)

        def step():
            torch.autograd.grad(O, (X, gq, gk), dO, retain_graph=True)
    else:
        def step():
            with torch.no_grad():
                fwd()
    ms, runs = time_cuda(torch, step, 1 if quick else 2, quick)
    return dict(case="attn_bwd" if backward else "attn_fwd", impl="torch-eager", precision=prec, B=B, L=L, d=d, dv=e,
                runs=runs, ms=ms, tflops=attn_flops(B, L, d, e, backward) / (ms * 1e-3) / 1e12)


def sdpa_backends(torch):
    """The fused SDPA kernels to try, in order, as (name, context factory);
    empty where this PyTorch cannot choose one."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel  # torch >= 2.3
        out = [("flash", lambda: sdpa_kernel(SDPBackend.FLASH_ATTENTION))]
        if hasattr(SDPBackend, "CUDNN_ATTENTION"):
            out.append(("cudnn", lambda: sdpa_kernel(SDPBackend.CUDNN_ATTENTION)))
        out.append(("efficient", lambda: sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION)))
        return out
    except ImportError:
        pass
    k = getattr(torch.backends.cuda, "sdp_kernel", None)  # torch 2.0-2.2
    if k is None:
        return []
    return [("flash", lambda: k(enable_flash=True, enable_math=False, enable_mem_efficient=False)),
            ("efficient", lambda: k(enable_flash=False, enable_math=False, enable_mem_efficient=True))]


def case_sdpa(torch, B, L, d, dv, prec, backward, quick, name):
    """SDPA at one shape on the first fused backend that runs it."""
    import torch.nn.functional as F
    dev = DEV
    dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[prec]
    gen = torch.Generator(device=dev).manual_seed(2)
    q, k = (torch.randn(B, 1, L, d, generator=gen, device=dev).to(dtype).requires_grad_(backward) for _ in range(2))
    v = torch.randn(B, 1, L, dv, generator=gen, device=dev).to(dtype).requires_grad_(backward)
    base = dict(case=name + ("_bwd" if backward else "_fwd"), impl="torch-sdpa", precision=prec, B=B, L=L, d=d, dv=dv)
    if not hasattr(F, "scaled_dot_product_attention"):
        return dict(base, error=f"torch {torch.__version__} has no scaled_dot_product_attention")
    backends = sdpa_backends(torch) if DEV == "cuda" else [("default", None)]
    refused = []
    for bname, ctx in backends:
        def run(step_fn):
            if ctx is None:
                return time_cuda(torch, step_fn, 1, quick)
            with ctx():
                return time_cuda(torch, step_fn, 1 if quick else 2, quick)
        try:
            if backward:
                def prep():
                    return F.scaled_dot_product_attention(q, k, v)
                if ctx is None:
                    O = prep()
                else:
                    with ctx():
                        O = prep()
                dO = torch.randn(O.shape, generator=gen, device=dev).to(dtype)

                def step():
                    torch.autograd.grad(O, (q, k, v), dO, retain_graph=True)
            else:
                def step():
                    with torch.no_grad():
                        F.scaled_dot_product_attention(q, k, v)
            ms, runs = run(step)
        except RuntimeError as e:  # "No available kernel": the backend refuses the shape or dtype
            if "out of memory" in str(e):
                raise
            refused.append(f"{bname}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            continue
        return dict(base, backend=bname, runs=runs, ms=ms,
                    tflops=attn_flops(B, L, d, dv, backward) / (ms * 1e-3) / 1e12)
    why = "; ".join(refused) if refused else f"torch {torch.__version__} cannot choose an SDPA backend"
    return dict(base, error="no fused SDPA kernel accepts this shape: " + why[:300])


def case_train(torch, bt, prec, quick):
    import torch.nn.functional as F
    dev = DEV
    size = dict(bt.PAPER if TRAIN["size"] == "paper" else bt.DEFAULT)
    B, L = TRAIN["B"], TRAIN["L"]
    gen = torch.Generator().manual_seed(1)
    m = bt.Model(size, L, gen, grad=False)
    to = lambda t: t.detach().to(dev).requires_grad_(True)  # noqa: E731
    m.word, m.types = to(m.word), to(m.types)
    m.layers = [{k: to(t) for k, t in w.items()} for w in m.layers]
    m.cos, m.sin = m.cos.to(dev), m.sin.to(dev)
    decay = [p for p in m.params() if p.dim() > 1]
    keep = [p for p in m.params() if p.dim() == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": keep, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    per = math.ceil(0.15 * (L - 2))
    scale = 1 / math.sqrt(size["key"])

    def batch():
        # Made on the host and copied up, as the Go trainer does.
        ids = torch.randint(5, size["vocab"], (B, L), generator=gen)
        ids[:, 0], ids[:, -1] = 2, 3
        types = torch.zeros(B, L, dtype=torch.long)
        mask = torch.ones(B, L, dtype=torch.bool)
        pos = torch.stack([torch.randperm(L - 2, generator=gen)[:per] + 1 for _ in range(B)])
        select = (torch.arange(B)[:, None] * L + pos).reshape(-1)
        targets = ids.reshape(-1)[select].clone()
        ids.reshape(-1)[select] = 4
        return [t.to(dev, non_blocking=False) for t in (ids, types, mask, select, targets)]

    last = {}

    def step():
        ids, types, mask, select, targets = batch()
        with autocast(torch, prec):
            logits = m.forward(ids, types, select, scale, mask, 0.1, True)
        loss = F.cross_entropy(logits.float(), targets, ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.params(), 1.0)
        opt.step()
        last["loss"] = loss

    ms, runs = time_cuda(torch, step, 1 if quick else 3, quick)
    return dict(case="train_paper", impl="torch-eager", precision=prec, B=B, L=L, runs=runs, ms=ms,
                tokens_per_s=B * L / (ms * 1e-3), loss=float(last["loss"]))


CASES = ("attn_fwd", "attn_bwd", "sdpa_fwd", "sdpa_bwd", "sdpa128", "train_paper")


def jobs_for(torch, bt, names, batches, precisions, quick):
    """The cases in the order they run: B = 1 first (every length, then the
    FlashAttention anchor and the training step), then the larger batches,
    so that a run cut short still has the comparisons at B = 1."""
    jobs = []  # (label, fn)
    for i, B in enumerate(batches):
        for L in LENGTHS:
            for prec in precisions:
                for bwd in (False, True):
                    if ("attn_bwd" if bwd else "attn_fwd") in names:
                        jobs.append((dict(case="attn_bwd" if bwd else "attn_fwd", impl="torch-eager", precision=prec, B=B, L=L),
                                     lambda B=B, L=L, p=prec, b=bwd: case_attn(torch, bt, B, L, p, b, quick)))
                    if ("sdpa_bwd" if bwd else "sdpa_fwd") in names:
                        jobs.append((dict(case="sdpa_bwd" if bwd else "sdpa_fwd", impl="torch-sdpa", precision=prec, B=B, L=L),
                                     lambda B=B, L=L, p=prec, b=bwd: case_sdpa(torch, B, L, D, DV, p, b, quick, "sdpa")))
        if i == 0:
            if "sdpa128" in names:
                for L in LENGTHS:
                    for bwd in (False, True):
                        jobs.append((dict(case="sdpa128_bwd" if bwd else "sdpa128_fwd", impl="torch-sdpa", precision="bf16", B=B, L=L),
                                     lambda B=B, L=L, b=bwd: case_sdpa(torch, B, L, D, D, "bf16", b, quick, "sdpa128")))
            if "train_paper" in names:
                for prec in precisions:
                    jobs.append((dict(case="train_paper", impl="torch-eager", precision=prec),
                                 lambda p=prec: case_train(torch, bt, p, quick)))
    return jobs


def run_cases(names, batches, precisions, quick, budget):
    t0 = time.monotonic()
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        emit(dict(case="torch", error=f"PyTorch not importable: {e}"))
        return 3
    if DEV == "cuda" and not torch.cuda.is_available():
        emit(dict(case="torch", error=f"torch {torch.__version__}: no CUDA device (torch.cuda.is_available() is False)"))
        return 3
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    sys.path.insert(0, HERE)
    import bench_torch as bt  # the model, written once for the CPU and GPU benchmarks
    name = torch.cuda.get_device_name(0) if DEV == "cuda" else "the CPU (--smoke: not a measurement)"
    emit(dict(case="torch", impl="torch", version=torch.__version__, device=name))
    unknown = [n for n in names if n not in CASES]
    if unknown:
        emit(dict(case="torch", error=f"unknown cases {unknown}; known: {', '.join(CASES)}"))
        return 2
    status = 0
    for label, job in jobs_for(torch, bt, names, batches, precisions, quick):
        if budget and time.monotonic() - t0 > budget:
            emit(dict(label, error=f"not run: the time budget of {budget:g} s was spent"))
            continue
        try:
            emit(job())
        except Exception as e:  # noqa: BLE001 (an OOM, a missing kernel: report and go on)
            emit(dict(label, error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
            status = 1
        finally:
            if DEV == "cuda":
                torch.cuda.empty_cache()
    return status


# --------------------------------------------------------------------------
# The results tables
# --------------------------------------------------------------------------

def read_lines(paths):
    out = []
    for p in paths:
        try:
            with open(p, errors="replace") as f:
                for line in f:
                    i = line.find(PREFIX)
                    if i >= 0:
                        try:
                            out.append(json.loads(line[i + len(PREFIX):]))
                        except ValueError:
                            pass
        except OSError:
            pass
    return out


def fmt(x, spec):
    return "–" if x is None else format(x, spec)


def clocks_summary(path):
    """One line on the SM clock during the timings from nvidia-smi's CSV
    (timestamp, clocks.sm, clocks.max.sm, ...), or None."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError:
        return None
    sm, smax, power = [], [], []
    for r in rows:
        if len(r) < 3:
            continue
        try:
            sm.append(float(r[1].strip().split()[0]))
            smax.append(float(r[2].strip().split()[0]))
            if len(r) > 4:
                power.append(float(r[4].strip().split()[0]))
        except (ValueError, IndexError):
            continue  # the header, "[N/A]"
    if not sm:
        return None
    line = (f"SM clock during the timings ({len(sm)} samples, nvidia-smi every second): min {min(sm):.0f}, "
            f"median {statistics.median(sm):.0f}, max {max(sm):.0f} MHz (the device's maximum {max(smax):.0f} MHz)")
    if power:
        line += f"; power median {statistics.median(power):.0f} W"
    return line + "."


def table(paths, clocks=None):
    rs = read_lines(paths)
    ok = [r for r in rs if "error" not in r]

    def get(case, impl, **kw):
        for r in ok:
            if r.get("case") == case and r.get("impl") == impl and all(r.get(k) == v for k, v in kw.items()):
                return r
        return None

    def cell(r):
        if r is None:
            return "–"
        s = f"{r['ms']:.3f} ({r['tflops']:.1f})"
        return s + (f" {r['backend']}" if r.get("backend") else "")

    lines = []
    info = get("torch", "torch")
    if info:
        lines.append(f"PyTorch {info['version']} on {info['device']}.")
    if clocks:
        c = clocks_summary(clocks)
        if c:
            lines.append(c)
    for r in rs:
        if "error" in r:
            where = ", ".join(f"{k} {r[k]}" for k in ("path", "precision", "B", "L") if k in r)
            lines.append(f"Not measured: {r.get('case')} ({r.get('impl', '')}{', ' + where if where else ''}): {r['error']}")
    paths_go = sorted({r.get("path", "fused") for r in ok if r.get("impl") == "go-cuda" and r.get("case", "").startswith("attn_")},
                      key=lambda p: (p != "fused", p)) or ["fused"]
    attn_rows = [r for r in ok if r.get("case", "").startswith(("attn_", "sdpa_"))]
    batches = sorted({r["B"] for r in attn_rows if "B" in r}) or list(BATCHES)
    lengths = sorted({r["L"] for r in attn_rows if "L" in r}) or list(LENGTHS)
    if not ok:
        lines.append("")
        lines.append("No timing measured.")
        return "\n".join(lines) + "\n"
    lines.append("")
    lines.append("Attention, median ms of CUDA-event timings after warm-up (TFLOP/s in brackets, "
                 "forward 2·B·L²·(d+d_v), backward 2·B·L²·(3d+2d_v) for every implementation). "
                 "GAU attention, d = 128, d_v = 1536; bf16: bfloat16 X in Go (the forward on tensor cores), "
                 "torch.autocast in PyTorch eager, bfloat16 q, k, v in SDPA (one head, the fused kernel named).")
    lines.append("")
    head = "| pass | B | L | precision | " + " | ".join(f"Go {p}" for p in paths_go) + " | PyTorch eager | SDPA | eager / fastest Go | SDPA / fastest Go |"
    lines.append(head)
    lines.append("|---|---:|---:|---|" + "---:|" * (len(paths_go) + 4))
    for pas in ("attn_fwd", "attn_bwd"):
        sd = pas.replace("attn", "sdpa")
        for B in batches:
            for L in lengths:
                for prec in PRECISIONS:
                    gos = [get(pas, "go-cuda", path=p, precision=prec, B=B, L=L) for p in paths_go]
                    t = get(pas, "torch-eager", precision=prec, B=B, L=L)
                    s = get(sd, "torch-sdpa", precision=prec, B=B, L=L)
                    if not any(gos) and t is None and s is None:
                        continue
                    best = min((g for g in gos if g), key=lambda g: g["ms"], default=None)
                    sp = "–" if best is None or t is None else f"{t['ms'] / best['ms']:.2f}x"
                    ss = "–" if best is None or s is None else f"{s['ms'] / best['ms']:.2f}x"
                    name = "forward" if pas == "attn_fwd" else "backward"
                    lines.append(f"| {name} | {B} | {L} | {prec} | " + " | ".join(cell(g) for g in gos) +
                                 f" | {cell(t)} | {cell(s)} | {sp} | {ss} |")
    anchor = [(pas, L, get("sdpa128_" + pas, "torch-sdpa", L=L)) for pas in ("fwd", "bwd") for L in lengths]
    if any(r for _, _, r in anchor):
        lines.append("")
        lines.append("SDPA at d = d_v = 128, B = 1, bf16 (the FlashAttention anchor): " +
                     "; ".join(f"{'forward' if p == 'fwd' else 'backward'} L = {L}: {cell(r)}" for p, L, r in anchor if r) + ".")
    lines.append("")
    lines.append("Training step, paper size (6 layers, 768/1536/128, vocabulary 12000, dropout 0.1, AdamW, "
                 "clipping), median of CUDA-event timings after warm-up; bf16: bfloat16 inputs to the matrix "
                 "products, float32 accumulation and weights (Go: -precision bf16; PyTorch: torch.autocast):")
    lines.append("")
    tpaths = sorted({r.get("path", "fused") for r in ok if r.get("case") == "train_paper" and r.get("impl", "").startswith("go-cuda")},
                    key=lambda p: (p != "auto", p != "fused", p)) or ["fused"]
    shapes = sorted({(r.get("B"), r.get("L")) for r in ok if r.get("case") == "train_paper"},
                    key=lambda x: (x[0] or 0, x[1] or 0)) or [(None, None)]
    lines.append("| B × L | precision | Go path | Go ms | PyTorch eager ms | Go tokens/s | PyTorch tokens/s | Go / PyTorch tokens/s |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|")
    for B, L in shapes:
        for prec in PRECISIONS:
            t = next((r for r in ok if r.get("case") == "train_paper" and r.get("impl") == "torch-eager"
                      and r.get("precision") == prec and r.get("B") == B and r.get("L") == L), None)
            for p in tpaths:
                g = next((r for r in ok if r.get("case") == "train_paper" and r.get("impl", "").startswith("go-cuda")
                          and r.get("path", "fused") == p and r.get("precision", "f32") == prec
                          and r.get("B") == B and r.get("L") == L), None)
                if g is None and t is None:
                    continue
                ratio = "–" if not (g and t) else f"{g['tokens_per_s'] / t['tokens_per_s']:.2f}"
                lines.append(f"| {B} × {L} | {prec} | {p} | {fmt(g and g['ms'], '.2f')} | {fmt(t and t['ms'], '.2f')} | "
                             f"{fmt(g and g['tokens_per_s'], ',.0f')} | {fmt(t and t['tokens_per_s'], ',.0f')} | {ratio} |")
    sweeps = [(n, get("paper_sweep", impl)) for n, impl in (("f32", "go-cuda"), ("bf16", "go-cuda-bf16"))]
    if any(r for _, r in sweeps):
        lines.append("")
        lines.append("Paper protocol, one method (InfoScale), paper-size model, 10 documents, every position at "
                     "2x..64x of n0 = 64: estimated from the wall time of a sample of positions per length "
                     "(the time is linear in the number of masked copies; target: under 600 s on an H100):")
        lines.append("")
        lines.append("| precision | positions timed per length | seconds per length (sample) | full sweep, estimated |")
        lines.append("|---|---:|---|---:|")
        for name, r in sweeps:
            if r:
                per = ", ".join(f"{L}: {x:.2f}" for L, x in zip(r["lengths"], r["seconds"]))
                lines.append(f"| {name} | {r['positions']} | {per} | {r['estimate_s']:.0f} s |")
    return "\n".join(lines) + "\n"


CSV_FIELDS = ("case", "impl", "path", "precision", "B", "L", "d", "dv", "backend", "runs", "ms", "tflops",
              "tokens_per_s", "loss", "estimate_s", "error")


def write_csv(paths, out):
    """Every timing line of the logs as one CSV row (CSV_FIELDS; lists and
    other fields left out)."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for r in read_lines(paths):
        w.writerow(["" if r.get(k) is None else r[k] for k in CSV_FIELDS])


def ints(s):
    try:
        v = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r}: want comma-separated positive integers")
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError(f"{s!r}: want comma-separated positive integers")
    return tuple(v)


def main():
    global DEV, LENGTHS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated cases: " + ", ".join(CASES))
    ap.add_argument("--batch", type=ints, default=BATCHES, help="batch sizes of the attention cases (default 1,8)")
    ap.add_argument("--lengths", type=ints, default=LENGTHS, help="sequence lengths of the attention cases (default 4096)")
    ap.add_argument("--precision", default=",".join(PRECISIONS), help="f32, bf16 or both (default)")
    ap.add_argument("--time-budget", type=float, default=0, metavar="S",
                    help="start no case after S seconds (its line says so); 0: no limit")
    ap.add_argument("--quick", action="store_true", help="few runs (a smoke test, not a measurement)")
    ap.add_argument("--table", nargs="+", metavar="LOG", help="print the results tables from logs holding GAUALPHA_TIMING lines")
    ap.add_argument("--clocks", metavar="CSV", help="with --table: nvidia-smi's clock log (gpu-run.sh's clocks.csv)")
    ap.add_argument("--csv", nargs="+", metavar="LOG", help="print every timing line of the logs as CSV")
    ap.add_argument("--train-shape", metavar="BxL", default=None,
                    help="batch and length of the training step (default 8x512, the paper's)")
    ap.add_argument("--smoke", action="store_true",
                    help="check this script anywhere (CPU if no GPU): L = 64, 128, the default-size model at batch 4; nothing measured")
    a = ap.parse_args()
    LENGTHS = a.lengths
    if a.table:
        sys.stdout.write(table(a.table, a.clocks))
        return 0
    if a.csv:
        write_csv(a.csv, sys.stdout)
        return 0
    if a.train_shape:
        try:
            tb, tl = (int(x) for x in a.train_shape.lower().split("x"))
            if tb < 1 or tl < 3:
                raise ValueError
        except ValueError:
            ap.error(f"--train-shape {a.train_shape!r}: want BxL, e.g. 8x512")
        TRAIN.update(B=tb, L=tl)
    precisions = tuple(p.strip() for p in a.precision.split(",") if p.strip())
    if not precisions or any(p not in PRECISIONS for p in precisions):
        ap.error(f"--precision {a.precision!r}: want f32, bf16 or f32,bf16")
    if a.smoke:
        import torch
        DEV = "cuda" if torch.cuda.is_available() else "cpu"
        LENGTHS = (64, 128)
        TRAIN.update(size="default", B=4, L=32)
        a.quick = True
        if a.batch == BATCHES:
            a.batch = (1, 2)
    return run_cases([c.strip() for c in a.cases.split(",") if c.strip()], a.batch, precisions, a.quick, a.time_budget)


if __name__ == "__main__":
    sys.exit(main())
