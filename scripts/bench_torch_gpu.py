#!/usr/bin/env python3
"""PyTorch side of the GPU check (scripts/gpu-check.sh; docs/gpu-results.md).

On the GPU, float32, the same math as the Go CUDA side:

  attn_fwd / attn_bwd   GAU attention written plainly in PyTorch eager
                        (bench_torch.attention: ScaleOffset, RoPE, logits,
                        softmax, A.V; no SDPA, no torch.compile), one
                        sequence, d = 128, d_v = 1536, L = 1024, 4096, 16384
  sdpa_fwd / sdpa_bwd   torch.nn.functional.scaled_dot_product_attention at
                        d = d_v = 128, bfloat16 (the FlashAttention kernel)
                        and float32 (whatever backend PyTorch picks): the
                        anchor for what a tuned attention reaches on this GPU
  train_paper           a paper-size training step (6 layers, 768/1536/128,
                        vocabulary 12000, batch 128, L = 64, dropout 0.1,
                        AdamW, clipping) in eager mode (bench_torch.Model),
                        in float32 and under torch.autocast(bfloat16) (the
                        comparison for the Go side's -precision bf16)

Each case: warm-up runs, then CUDA-event timings of many runs; the median
is reported. TFLOP/s count the matrix products as the Go side does:
forward 2*L^2*(d+d_v), backward 2*L^2*(3d+2d_v).

    python3 scripts/bench_torch_gpu.py            # every case, one line each
    python3 scripts/bench_torch_gpu.py --cases attn_fwd,train_paper --quick
    python3 scripts/bench_torch_gpu.py --table LOG...   # the results table (no torch needed)

Output lines are "GAUALPHA_TIMING {json}", the format of the Go timing
tests, so that --table reads both. TF32 is off (full float32, as cuBLAS in
the Go side).
"""

import argparse
import json
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LENGTHS = (1024, 4096, 16384)
D, DV = 128, 1536
PREFIX = "GAUALPHA_TIMING "
# --smoke (a check of this script on any machine, CPU included: tiny
# sizes, nothing measured) changes these.
DEV = "cuda"
TRAIN = dict(size="paper", B=128, L=64)


def emit(obj):
    print(PREFIX + json.dumps(obj), flush=True)


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

def time_cuda(torch, step, warmup, runs):
    """Median milliseconds of step() between CUDA events, after warm-up."""
    for _ in range(warmup):
        step()
    if DEV != "cuda":  # --smoke on the CPU: wall clock
        import time
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        step()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def runs_for(L, quick):
    if quick:
        return 1, 3
    return (3, 30) if L < 16384 else (2, 10)


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

def case_attn(torch, bt, L, backward, quick):
    dev = DEV
    gen = torch.Generator(device=dev).manual_seed(1)
    e, d = DV, D
    scale = bt.infoscale_factor(L, 64, d) / math.sqrt(d)
    X = torch.randn(1, L, 2 * e + d, generator=gen, device=dev)
    X[..., 2 * e:] *= 0.3  # moderate logits, like a trained model's
    X.requires_grad_(backward)
    gq = (1 + 0.1 * torch.randn(d, generator=gen, device=dev)).requires_grad_(backward)
    gk = (1 + 0.1 * torch.randn(d, generator=gen, device=dev)).requires_grad_(backward)
    cos, sin = (t.to(dev) for t in bt.rope_tables(L, d))

    def fwd():
        _, v, z = torch.split(X, [e, e, d], dim=-1)
        return bt.attention(v, z, gq, gk, cos, sin, scale)

    if backward:
        O = fwd()
        dO = torch.randn(O.shape, generator=gen, device=dev)

        def step():
            torch.autograd.grad(O, (X, gq, gk), dO, retain_graph=True)
    else:
        def step():
            with torch.no_grad():
                fwd()
    warm, runs = runs_for(L, quick)
    ms = time_cuda(torch, step, warm, runs)
    flops = 2.0 * L * L * ((3 * d + 2 * e) if backward else (d + e))
    return dict(case="attn_bwd" if backward else "attn_fwd", impl="torch-eager", L=L, d=d, dv=e,
                runs=runs, ms=ms, tflops=flops / (ms * 1e-3) / 1e12)


def case_sdpa(torch, L, backward, dtype_name, quick):
    import torch.nn.functional as F
    dev = DEV
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype_name]
    gen = torch.Generator(device=dev).manual_seed(2)
    q, k, v = (torch.randn(1, 1, L, D, generator=gen, device=dev).to(dtype).requires_grad_(backward) for _ in range(3))
    if backward:
        O = F.scaled_dot_product_attention(q, k, v)
        dO = torch.randn(O.shape, generator=gen, device=dev).to(dtype)

        def step():
            torch.autograd.grad(O, (q, k, v), dO, retain_graph=True)
    else:
        def step():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v)
    warm, runs = runs_for(L, quick)
    ms = time_cuda(torch, step, warm, runs)
    flops = 2.0 * L * L * ((3 * D + 2 * D) if backward else (2 * D))
    return dict(case="sdpa_bwd" if backward else "sdpa_fwd", impl="torch-sdpa-" + dtype_name, L=L, d=D, dv=D,
                runs=runs, ms=ms, tflops=flops / (ms * 1e-3) / 1e12)


def case_train(torch, bt, quick, bf16=False):
    import torch.nn.functional as F
    dev = DEV
    size = dict(bt.PAPER if TRAIN["size"] == "paper" else bt.DEFAULT)
    B, L = TRAIN["B"], TRAIN["L"]
    gen = torch.Generator().manual_seed(1)
    m = bt.Model(size, L, gen, grad=False)
    to = lambda t: t.detach().to(dev).requires_grad_(True)
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
        with torch.autocast(device_type=DEV, dtype=torch.bfloat16, enabled=bf16):
            logits = m.forward(ids, types, select, scale, mask, 0.1, True)
        loss = F.cross_entropy(logits.float(), targets, ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.params(), 1.0)
        opt.step()
        last["loss"] = loss

    warm, runs = (1, 3) if quick else (3, 20)
    ms = time_cuda(torch, step, warm, runs)
    return dict(case="train_paper", impl="torch-eager-bf16" if bf16 else "torch-eager", B=B, L=L, runs=runs, ms=ms,
                tokens_per_s=B * L / (ms * 1e-3), loss=float(last["loss"]))


CASES = ("attn_fwd", "attn_bwd", "sdpa_fwd", "sdpa_bwd", "train_paper")


def run_cases(names, quick):
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
    status = 0
    for name in names:
        jobs = []
        if name in ("attn_fwd", "attn_bwd"):
            jobs = [(lambda L=L: case_attn(torch, bt, L, name == "attn_bwd", quick)) for L in LENGTHS]
        elif name in ("sdpa_fwd", "sdpa_bwd"):
            if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
                emit(dict(case=name, impl="torch-sdpa", error=f"torch {torch.__version__} has no scaled_dot_product_attention"))
                continue
            jobs = [(lambda L=L, dt=dt: case_sdpa(torch, L, name == "sdpa_bwd", dt, quick))
                    for dt in ("bf16", "fp32") for L in LENGTHS]
        elif name == "train_paper":
            jobs = [(lambda b=b: case_train(torch, bt, quick, b)) for b in (False, True)]
        else:
            emit(dict(case=name, error="unknown case"))
            status = 2
            continue
        for job in jobs:
            try:
                emit(job())
            except Exception as e:  # noqa: BLE001 (an OOM, a missing kernel: report and go on)
                emit(dict(case=name, impl="torch", error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
                status = 1
            finally:
                if DEV == "cuda":
                    torch.cuda.empty_cache()
    return status


# --------------------------------------------------------------------------
# The results table
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


def table(paths):
    rs = read_lines(paths)

    def get(case, impl, **kw):
        for r in rs:
            if r.get("case") == case and r.get("impl") == impl and "error" not in r and all(r.get(k) == v for k, v in kw.items()):
                return r
        return None

    lines = []
    info = get("torch", "torch")
    if info:
        lines.append(f"PyTorch {info['version']} on {info['device']}.")
    for r in rs:
        if "error" in r:
            lines.append(f"Not measured: {r.get('case')} ({r.get('impl', '')}): {r['error']}")
    lines.append("")
    lines.append("Attention, one sequence, median ms of CUDA-event timings after warm-up (TFLOP/s in brackets). "
                 "Go and PyTorch eager: GAU attention, d = 128, d_v = 1536, float32; Go bf16 TC: the bfloat16 "
                 "forward on tensor cores (-precision bf16). "
                 "SDPA: torch scaled_dot_product_attention, d = d_v = 128 (bf16 = FlashAttention).")
    lines.append("")
    lines.append("| pass | L | Go CUDA | PyTorch eager | Go speed-up | Go bf16 TC | SDPA bf16 | SDPA fp32 |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for pas, sd in (("attn_fwd", "sdpa_fwd"), ("attn_bwd", "sdpa_bwd")):
        for L in LENGTHS:
            g = get(pas, "go-cuda", L=L)
            tc = get(pas, "go-cuda-bf16-tc", L=L)
            t = get(pas, "torch-eager", L=L)
            s16 = get(sd, "torch-sdpa-bf16", L=L)
            s32 = get(sd, "torch-sdpa-fp32", L=L)
            cell = lambda r: "–" if r is None else f"{r['ms']:.3f} ({r['tflops']:.1f})"
            sp = "–" if g is None or t is None else f"{t['ms'] / g['ms']:.2f}x"
            name = "forward" if pas == "attn_fwd" else "backward"
            lines.append(f"| {name} | {L} | {cell(g)} | {cell(t)} | {sp} | {cell(tc)} | {cell(s16)} | {cell(s32)} |")
    lines.append("")
    lines.append("Training step, paper size (6 layers, 768/1536/128, vocabulary 12000, batch 128, L = 64, "
                 "dropout 0.1, AdamW, clipping), median of CUDA-event timings after warm-up; bf16: bfloat16 "
                 "inputs to the matrix products, float32 accumulation and weights (Go: -precision bf16; "
                 "PyTorch: torch.autocast):")
    lines.append("")
    lines.append("| precision | Go CUDA (Trainer.Step) ms | PyTorch eager ms | Go tokens/s | PyTorch tokens/s | Go / PyTorch tokens/s |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for name, gi, ti in (("float32", "go-cuda", "torch-eager"), ("bf16", "go-cuda-bf16", "torch-eager-bf16")):
        g, t = get("train_paper", gi), get("train_paper", ti)
        ratio = "–" if not (g and t) else f"{g['tokens_per_s'] / t['tokens_per_s']:.2f}"
        lines.append(f"| {name} | {fmt(g and g['ms'], '.2f')} | {fmt(t and t['ms'], '.2f')} | "
                     f"{fmt(g and g['tokens_per_s'], ',.0f')} | {fmt(t and t['tokens_per_s'], ',.0f')} | {ratio} |")
    sweeps = [(n, get("paper_sweep", impl)) for n, impl in (("float32", "go-cuda"), ("bf16 inputs", "go-cuda-bf16"))]
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated cases: " + ", ".join(CASES))
    ap.add_argument("--quick", action="store_true", help="few runs (a smoke test, not a measurement)")
    ap.add_argument("--table", nargs="+", metavar="LOG", help="print the results table from logs holding GAUALPHA_TIMING lines")
    ap.add_argument("--smoke", action="store_true",
                    help="check this script anywhere (CPU if no GPU): L = 64, 128, the default-size model at batch 4; nothing measured")
    a = ap.parse_args()
    if a.table:
        sys.stdout.write(table(a.table))
        return 0
    if a.smoke:
        global DEV, LENGTHS
        import torch
        DEV = "cuda" if torch.cuda.is_available() else "cpu"
        LENGTHS = (64, 128)
        TRAIN.update(size="default", B=4, L=32)
        a.quick = True
    return run_cases([c.strip() for c in a.cases.split(",") if c.strip()], a.quick)


if __name__ == "__main__":
    sys.exit(main())
