#!/usr/bin/env python3
"""Pairwise-loss benchmark: lossfn batch_triplet (B = 256 embeddings of D = 128, 16 classes, every
mining) against pytorch-metric-learning's TripletMarginLoss + TripletMarginMiner; cosface /
arcface (N = 512 embeddings of D = 512 against C = 100 000 classes) and info_nce (two views of
N = 8192 samples, D = 512, CLIP's symmetric loss) against torch (the same formulas with autograd)
and against the GEMMs a margin loss cannot avoid, timed with lossfn's own GEMM engine; value and
gradients, float32; peak extra memory of each; in one run.

Run from the repository root::

    python bench/bench_pairwise.py            # full run (a few minutes on 2 cores)
    python bench/bench_pairwise.py --quick    # smoke run: short timing, no report

Every case times

* lossfn  ``lf.<loss>.value_and_grad(*inputs, out=grads)``;
* pytorch-metric-learning (batch_triplet) the miner and the loss with the same margin and
          ``LpDistance(normalize_embeddings=False)``, forward and backward;
* torch   the inputs as leaf tensors made once, their ``.grad`` reset, then the loss as written in
          tests/test_pairwise.py (``F.normalize``, ``F.linear`` / ``@``, the margin, ``F.cross_entropy``)
          and ``.backward()`` (``torch.set_num_threads`` = lossfn's thread count);
* GEMMs   (margin losses) the three products S = E W^T, dE = G W, dW = G^T E with Eigen and lossfn's
          fixed cache sizes (``bench/gemm.cpp``), the classes split over the threads: the floor of
          any exact implementation, which lossfn's four products (S once more in the gradient sweep)
          and its epilogues should stay within 2x of.

Peak extra memory: a fresh process per library makes the inputs, then calls value_and_grad once;
the growth of its peak resident set less the gradients' bytes is the working memory reported. The GEMM throughput is 2 N D C (or
2 N^2 D) flops per product over the time, against the float FMA peak (twice the double peak of
``bench/stream.cpp``'s independent FMA chains, same run).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import lossfn as lf

from _common import (base_info, fma_peak_f64, fmt_t, gemm_library, measure, parse_threads, perf, report_main, torch,
                     wait_quiet, with_goals)

TRIPLET_SHAPE = dict(n=256, d=128, classes=16)
MARGIN_SHAPE = dict(n=512, d=512, classes=100_000)
NCE_SHAPE = dict(n=8192, d=512)


def margin_inputs(rng, n, d, classes):
    w = rng.standard_normal((classes, d), dtype=np.float32)
    y = rng.integers(0, classes, n)
    e = (w[y] + rng.standard_normal((n, d), dtype=np.float32)).astype(np.float32)
    return [e, w, y]


def nce_inputs(rng, n, d):
    z1 = rng.standard_normal((n, d), dtype=np.float32)
    return [z1, (z1 + rng.standard_normal((n, d), dtype=np.float32)).astype(np.float32)]


def torch_step(name, x):
    """The peer's forward and backward on leaf tensors made once."""
    F = torch.nn.functional
    a = torch.from_numpy(x[0].copy()).requires_grad_(True)
    b = torch.from_numpy(x[1].copy()).requires_grad_(True)
    if name == "info_nce":
        labels = torch.arange(len(x[0]))

        def step():
            a.grad = b.grad = None
            logits = F.normalize(a) @ F.normalize(b).T / 0.1
            ((F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2).backward()
        return step
    y = torch.from_numpy(x[2])
    rows = torch.arange(len(y))
    s, m = (30.0, 0.35) if name == "cosface" else (64.0, 0.5)

    def step():
        a.grad = b.grad = None
        cos = F.linear(F.normalize(a), F.normalize(b)).clamp(-1, 1)
        t = cos[rows, y]
        if name == "cosface":
            phi = t - m
        else:
            phi = torch.where(t > np.cos(np.pi - m), t * np.cos(m) - torch.sqrt(1 - t * t) * np.sin(m),
                              t - np.sin(np.pi - m) * m)
        F.cross_entropy(cos.index_put((rows, y), phi) * s, y).backward()
    return step


PEAK_SCRIPT = r"""
import sys, numpy as np
sys.path.insert(0, {bench!r})
import bench_pairwise as b
rng = np.random.default_rng(0)
name, lib = {name!r}, {lib!r}
x = b.nce_inputs(rng, **b.NCE_SHAPE) if name == "info_nce" else b.margin_inputs(rng, **b.MARGIN_SHAPE)
if lib == "torch":
    step = b.torch_step(name, x)
    outputs = x[0].nbytes + x[1].nbytes  # the gradients torch allocates in the call
else:
    import lossfn as lf
    out = (np.zeros_like(x[0]), np.zeros_like(x[1]))
    for o in out:
        o.fill(1.0)  # resident before the call
    outputs = 0
    step = lambda: getattr(lf, name).value_and_grad(*x, out=out)
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak resident set back to the current one
before = status("VmRSS")
step()
print(status("VmHWM") - before - outputs)
"""


def peak_extra_bytes(name, lib):
    """The working memory of one value_and_grad in a fresh process (bytes): the growth of its peak
    resident set (/proc/self/status VmHWM, reset before the call through /proc/self/clear_refs)
    less the gradients (lossfn's out= buffers are resident before; torch allocates its own)."""
    code = PEAK_SCRIPT.format(bench=os.path.dirname(os.path.abspath(__file__)), name=name, lib=lib)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def pml_step(x, labels, mining):
    """pytorch-metric-learning's miner and loss, forward and backward (None without it)."""
    try:
        from pytorch_metric_learning import distances, losses, miners
    except ImportError:
        return None
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    y = torch.from_numpy(labels)
    metric = distances.LpDistance(normalize_embeddings=False)
    miner = miners.TripletMarginMiner(margin=0.2, type_of_triplets=mining, distance=metric)
    loss = losses.TripletMarginLoss(margin=0.2, distance=metric)

    def step():
        t.grad = None
        loss(t, y, miner(t, y)).backward()
    return step


def run_triplet(args, threads_list, rng):
    n, d, k = TRIPLET_SHAPE["n"], TRIPLET_SHAPE["d"], TRIPLET_SHAPE["classes"]
    labels = rng.integers(0, k, n)
    x = (rng.standard_normal((k, d), dtype=np.float32)[labels] +
         rng.standard_normal((n, d), dtype=np.float32)).astype(np.float32)
    out = np.empty_like(x)
    results = []
    for mining in ("semihard", "all", "hard"):
        step = None if args.no_torch or torch is None else pml_step(x, labels, mining)
        for threads in threads_list:
            lf.set_num_threads(threads)
            wait_quiet(args.quiet_wait)
            t_lf, _, _ = measure(lambda: lf.batch_triplet.value_and_grad(x, labels, mining=mining, reduction_mode="nonzero", out=out),
                                 args.target_time)
            row = {"loss": "batch_triplet", "mining": mining, "shape": dict(TRIPLET_SHAPE), "threads": threads,
                   "lossfn_s": t_lf}
            if step is not None:
                torch.set_num_threads(threads)
                row["peer_s"], _, _ = measure(step, args.target_time, slow=(args.slow_time, args.very_slow_time))
            results.append(row)
            print(f"batch_triplet {mining} {TRIPLET_SHAPE} threads={threads}: lossfn {fmt_t(t_lf)}"
                  + (f", pytorch-metric-learning {fmt_t(row['peer_s'])} ({row['peer_s'] / t_lf:.1f}x)"
                     if "peer_s" in row else ""), flush=True)
    return results


def run(args):
    threads_list = parse_threads(args.threads)
    info = base_info(args, torch is not None and not args.no_torch)
    info["fma_peak"] = {t: 2 * fma_peak_f64(t) for t in threads_list}  # float: twice the double lanes
    print("float FMA peak: " + ", ".join(f"{t} threads {v / 1e9:.0f} GFLOP/s" for t, v in info["fma_peak"].items()),
          flush=True)
    gemm = gemm_library()
    t0 = perf()
    rng = np.random.default_rng(0)
    results = run_triplet(args, threads_list, rng)
    for name in ("cosface", "arcface", "info_nce"):
        shape = NCE_SHAPE if name == "info_nce" else MARGIN_SHAPE
        x = nce_inputs(rng, **shape) if name == "info_nce" else margin_inputs(rng, **shape)
        out = (np.empty_like(x[0]), np.empty_like(x[1]))
        loss = getattr(lf, name)
        n, d = shape["n"], shape["d"]
        cols = shape.get("classes", n)
        product = 2.0 * n * d * cols
        step = None if args.no_torch or torch is None else torch_step(name, x)
        mem = {"lossfn": peak_extra_bytes(name, "lossfn")}
        if step is not None:
            mem["torch"] = peak_extra_bytes(name, "torch")
        for threads in threads_list:
            lf.set_num_threads(threads)
            wait_quiet(args.quiet_wait)
            t_lf, _, _ = measure(lambda: loss.value_and_grad(*x, out=out), args.target_time, min_reps=3)
            row = {"loss": name, "shape": dict(shape), "threads": threads, "lossfn_s": t_lf, "memory": mem,
                   "lossfn_gflops": 4 * product / t_lf / 1e9, "peak_gflops": info["fma_peak"][threads] / 1e9}
            if name != "info_nce":
                row["gemm_s"] = gemm.three_gemms_f32(n, d, cols, threads, 3)
                row["gemm_gflops"] = 3 * product / row["gemm_s"] / 1e9
            if step is not None:
                torch.set_num_threads(threads)
                row["peer_s"], _, _ = measure(step, args.target_time, min_reps=3,
                                              slow=(args.slow_time, args.very_slow_time))
            results.append(row)
            print(f"{name} {shape} threads={threads}: lossfn {fmt_t(t_lf)} ({row['lossfn_gflops']:.0f} GFLOP/s of "
                  f"{row['peak_gflops']:.0f})"
                  + (f", three GEMMs {fmt_t(row['gemm_s'])} ({row['gemm_gflops']:.0f} GFLOP/s, lossfn "
                     f"{t_lf / row['gemm_s']:.2f}x)" if "gemm_s" in row else "")
                  + (f", torch {fmt_t(row['peer_s'])} ({row['peer_s'] / t_lf:.1f}x)" if "peer_s" in row else "")
                  + f"; peak extra memory lossfn {mem['lossfn'] / 2**20:.0f} MiB"
                  + (f", torch {mem['torch'] / 2**20:.0f} MiB" if "torch" in mem else ""), flush=True)
    lf.set_num_threads(os.cpu_count() or 1)
    info["wall_s"] = perf() - t0
    return info, results


def goals(info, results):
    triplets = [r for r in results if r["loss"] == "batch_triplet" and "peer_s" in r]
    results = [r for r in results if r["loss"] != "batch_triplet"]
    out_triplet = []
    if triplets:
        semihard = [r for r in triplets if r["mining"] == "semihard"]
        out_triplet.append(("batch_triplet semihard B=256, D=128 >= 5x pytorch-metric-learning's loss + miner "
                            "(forward + backward)",
                            "PASS" if all(r["peer_s"] >= 5 * r["lossfn_s"] for r in semihard) else "FAIL",
                            [f"{r['mining']}, {r['threads']} threads: {r['peer_s'] / r['lossfn_s']:.1f}x"
                             for r in triplets]))
    return out_triplet + margin_goals(results)


def margin_goals(results):
    margin = [r for r in results if r["loss"] != "info_nce"]
    nce = [r for r in results if r["loss"] == "info_nce"]
    label = lambda r: f"{r['loss']}, {r['threads']} threads"  # noqa: E731
    out = [("cosface/arcface N=512, D=512, C=1e5 within 2x the three GEMMs (same GEMM)",
            "PASS" if all(r["lossfn_s"] <= 2 * r["gemm_s"] for r in margin) else "FAIL",
            [f"{label(r)}: {r['lossfn_s'] / r['gemm_s']:.2f}x" for r in margin])]
    with_peer = [r for r in margin if "peer_s" in r]
    if with_peer:
        out.append(("cosface/arcface >= 2x torch (normalize + linear + margin + cross-entropy + autograd)",
                    "PASS" if all(r["peer_s"] >= 2 * r["lossfn_s"] for r in with_peer) else "FAIL",
                    [f"{label(r)}: {r['peer_s'] / r['lossfn_s']:.2f}x" for r in with_peer]))
    nce_peer = [r for r in nce if "peer_s" in r]
    if nce_peer:
        out.append(("info_nce N=8192, D=512 at least as fast as torch, with no N x N buffer",
                    "PASS" if all(r["peer_s"] >= r["lossfn_s"] for r in nce_peer) else "FAIL",
                    [f"{label(r)}: {r['peer_s'] / r['lossfn_s']:.2f}x" for r in nce_peer]))
    firsts = {r["loss"]: r for r in results}
    out.append(("peak extra memory of one value_and_grad (reported)", "INFO",
                [f"{name}: lossfn {r['memory']['lossfn'] / 2**20:.0f} MiB"
                 + (f", torch {r['memory']['torch'] / 2**20:.0f} MiB" if "torch" in r["memory"] else "")
                 for name, r in firsts.items()]))
    out.append(("GEMM throughput against the float FMA peak (reported)", "INFO",
                [f"{label(r)}: lossfn {r['lossfn_gflops']:.0f} GFLOP/s (4 products)"
                 + (f", three GEMMs {r['gemm_gflops']:.0f} GFLOP/s" if "gemm_gflops" in r else "")
                 + f", peak {r['peak_gflops']:.0f} GFLOP/s ({100 * r['lossfn_gflops'] / r['peak_gflops']:.0f}%)"
                 for r in results]))
    return out


def report(info, results, goal_rows):
    L = ["# Pairwise losses: lossfn vs torch and vs the GEMMs", "",
         "Generated by `bench/bench_pairwise.py`. Command (run from the repository root):", "", "```",
         info["command"], "```", "",
         f"- date: {info['date']}, wall time {info['wall_s'] / 60:.1f} min",
         f"- build_info: `{info['build_info']}`",
         f"- CPU: {info['cpu']}, os.cpu_count() = {info['cpu_count']}; NumPy {info['numpy']}, "
         f"torch {info['torch'] or 'not installed'}",
         "- float32; value and both gradients; torch forward and backward with autograd on the same threads; "
         "the three GEMMs with Eigen and lossfn's cache sizes (bench/gemm.cpp); medians; the machine is shared and "
         "noisy: compare the ratios within a row.", "",
         "| loss | shape | threads | lossfn | three GEMMs | lossfn / GEMMs | torch | torch / lossfn | "
         "lossfn GFLOP/s (4 products) | float FMA peak |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r["loss"] == "batch_triplet":
            continue
        shape = ", ".join(f"{k}={v}" for k, v in r["shape"].items())
        gemm = (f"{fmt_t(r['gemm_s'])} | {r['lossfn_s'] / r['gemm_s']:.2f}x" if "gemm_s" in r else "n/a | n/a")
        peer = (f"{fmt_t(r['peer_s'])} | {r['peer_s'] / r['lossfn_s']:.2f}x" if "peer_s" in r else "n/a | n/a")
        L.append(f"| {r['loss']} | {shape} | {r['threads']} | {fmt_t(r['lossfn_s'])} | {gemm} | {peer} | "
                 f"{r['lossfn_gflops']:.0f} | {r['peak_gflops']:.0f} |")
    L += ["", "batch_triplet, B=256 embeddings of D=128 in 16 classes, margin 0.2, euclidean (no normalisation), "
          "against pytorch-metric-learning's TripletMarginMiner + TripletMarginLoss (its default reducer: the mean "
          "over the triplets with a positive loss), forward and backward:", "",
          "| mining | threads | lossfn | pytorch-metric-learning | ratio |", "|---|---:|---:|---:|---:|"]
    for r in results:
        if r["loss"] == "batch_triplet":
            peer = f"{fmt_t(r['peer_s'])} | {r['peer_s'] / r['lossfn_s']:.1f}x" if "peer_s" in r else "n/a | n/a"
            L.append(f"| {r['mining']} | {r['threads']} | {fmt_t(r['lossfn_s'])} | {peer} |")
    return with_goals(L, goal_rows)


def main():
    report_main(__doc__, "pairwise", run, goals, report, copy_mb=False)


if __name__ == "__main__":
    sys.exit(main())
