#!/usr/bin/env python3
"""Overlap-loss benchmark: lossfn dice / tversky / focal_tversky / bce_dice value_and_grad vs the same loss in
torch with autograd, float32, against the memory limit, and the Lovász hinge vs Berman et al.'s torch
implementation (torch.sort + autograd), in one run.

Run from the repository root::

    python bench/bench_segmentation.py            # full run (about two minutes on 2 cores)
    python bench/bench_segmentation.py --quick    # smoke run: short timing, no report

Every case (loss, N x C x H x W, target kind, from_logits) times

* lossfn  ``lf.<loss>.value_and_grad(p, t, out=grad, **kw)`` (NCHW read in place);
* torch   ``p.grad = None; loss(p, t).backward()`` on a leaf tensor made once, the loss written
          as segmentation-models writes it (sums over batch and pixels per class, ``dims=(0, 2)``;
          one-hot targets from labels with ``F.one_hot``; softmax / sigmoid inside for logits),
          ``torch.set_num_threads`` = lossfn's thread count.

* lovasz_hinge: ``lf.lovasz_hinge.value_and_grad(x, m, out=grad, per_sample=...)`` against Berman et al.'s
  ``lovasz_hinge`` (their ``lovasz_losses.py``: a Python loop over images, ``torch.sort`` of the errors,
  ``lovasz_grad`` by cumsum, ``dot(relu(errors_sorted), grad)``) forward and backward with autograd.

The memory limit is the bytes a fused two-pass kernel must move (the stats pass reads p and t,
the gradient pass reads them again and writes the gradient: 20 B per element for float32 masks;
labels are 8 B per pixel) divided by the best STREAM-style bandwidth on all threads
(``bench/stream.cpp``, measured in the same run).
"""

from __future__ import annotations

import os
import sys

import numpy as np

import lossfn as lf

from _common import (add_copy_bandwidth, base_info, cpu_model, fmt_t, measure, parse_threads, perf, report_main,
                     torch, wait_quiet, with_goals)

# (loss, N, C, H, W, target kind, from_logits)
CASES = [
    ("dice", 8, 1, 512, 512, "masks", False),
    ("tversky", 8, 1, 512, 512, "masks", False),
    ("dice", 8, 21, 512, 512, "masks", False),
    ("tversky", 8, 21, 512, 512, "masks", False),
    ("focal_tversky", 8, 21, 512, 512, "masks", False),
    ("bce_dice", 8, 1, 512, 512, "masks", True),
    ("bce_dice", 8, 21, 512, 512, "masks", False),
    ("dice", 8, 21, 512, 512, "labels", False),
    ("dice", 8, 21, 512, 512, "labels", True),
]

# (N, H, W, per_sample)
LOVASZ_CASES = [(8, 512, 512, True), (8, 512, 512, False)]


def inputs(N, C, H, W, kind, logits, seed=0):
    rng = np.random.default_rng(seed)
    if logits:
        p = rng.normal(0, 2, (N, C, H, W)).astype(np.float32)
    else:
        p = rng.random((N, C, H, W), dtype=np.float32)
    if kind == "labels":
        t = rng.integers(0, C, (N, H, W)).astype(np.int64)
    else:
        t = (rng.random((N, C, H, W)) < 0.3).astype(np.float32)
    return p, t


def bytes_moved(N, C, H, W, kind):
    """Bytes of the memory-limit model: stats pass reads p, t; gradient pass reads p, t, writes g."""
    n = N * C * H * W
    target = n * 4 if kind == "masks" else N * H * W * 8
    return 2 * (n * 4 + target) + n * 4


# Calls that move less than this stay in the caches (8 x 1 x 512 x 512: 40 MB over two passes):
# the memory limit does not bound them, and their cells say so instead of a percentage.
IN_CACHE_BYTES = 64 << 20


def limit_cell(r):
    """The row's share of the memory limit, or "in cache"."""
    if bytes_moved(*r["shape"], r["target"]) < IN_CACHE_BYTES:
        return "in cache"
    return f"{100 * r['limit_s'] / r['lossfn_s']:.0f}%"


def torch_loss(name, C, kind, logits):
    """The loss in torch as segmentation-models computes it (smooth 1, statistics over batch and pixels)."""
    F = torch.nn.functional
    alpha, beta, gamma = {"dice": (0.5, 0.5, 1.0), "tversky": (0.5, 0.5, 1.0), "bce_dice": (0.5, 0.5, 1.0),
                          "focal_tversky": (0.3, 0.7, 0.75)}[name]

    def loss(p, t):
        if name == "bce_dice":  # BCE(WithLogits)Loss + multilabel DiceLoss (a sigmoid per channel)
            q = torch.sigmoid(p) if logits else p
            inter = (q * t).sum((0, 2, 3))
            dice = (1 - (2 * inter + 1) / (q.sum((0, 2, 3)) + t.sum((0, 2, 3)) + 1)).mean()
            return (F.binary_cross_entropy_with_logits(p, t) if logits else F.binary_cross_entropy(p, t)) + dice
        if logits:
            p = torch.sigmoid(p) if C == 1 else p.softmax(1)
        if kind == "labels":
            t = F.one_hot(t, C).permute(0, 3, 1, 2).to(p.dtype)
        dims = (0, 2, 3)
        inter = (p * t).sum(dims)
        if name == "dice":
            score = (2 * inter + 1) / (p.sum(dims) + t.sum(dims) + 1)
            return (1 - score).mean()
        fp, fn = (p * (1 - t)).sum(dims), ((1 - p) * t).sum(dims)
        score = (inter + 1) / (inter + alpha * fp + beta * fn + 1)
        return ((1 - score).clamp_min(0) ** gamma).mean()

    return loss


def torch_lovasz(per_image):
    """Berman et al.'s lovasz_hinge (per_image, no ignore), as their lovasz_losses.py computes it."""
    F = torch.nn.functional

    def lovasz_grad(gt_sorted):
        gts = gt_sorted.sum()
        intersection = gts - gt_sorted.cumsum(0)
        union = gts + (1 - gt_sorted).cumsum(0)
        jaccard = 1.0 - intersection / union
        jaccard[1:] = jaccard[1:] - jaccard[:-1].clone()
        return jaccard

    def flat(logits, labels):
        signs = 2.0 * labels - 1.0
        errors = 1.0 - logits * signs
        errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
        return torch.dot(F.relu(errors_sorted), lovasz_grad(labels[perm]))

    def loss(x, m):
        if per_image:
            return sum(flat(xi.reshape(-1), mi.reshape(-1)) for xi, mi in zip(x, m)) / x.shape[0]
        return flat(x.reshape(-1), m.reshape(-1))

    return loss


def run_lovasz(args, threads_list, use_torch):
    results = []
    for (N, H, W, per_sample) in LOVASZ_CASES:
        rng = np.random.default_rng(1)
        x = rng.normal(0, 2, (N, H, W)).astype(np.float32)
        m = (rng.random((N, H, W)) < 0.3).astype(np.float32)
        grad = np.empty_like(x)
        _, g64 = lf.lovasz_hinge.value_and_grad(x.astype(np.float64), m, per_sample=per_sample)
        _, g32 = lf.lovasz_hinge.value_and_grad(x, m, per_sample=per_sample)
        scale = float(np.abs(g64).max())
        acc = {"lossfn_err": float(np.abs(g32 - g64).max()) / scale}
        if use_torch:
            xt = torch.from_numpy(x.copy()).requires_grad_(True)
            mt = torch.from_numpy(m)
            f = torch_lovasz(per_sample)

            def torch_step():
                xt.grad = None
                f(xt, mt).backward()

            torch_step()
            acc["torch_err"] = float(np.abs(xt.grad.numpy() - g64).max()) / scale
        for threads in threads_list:
            lf.set_num_threads(threads)
            wait_quiet(args.quiet_wait)
            t_lf, _, _ = measure(lambda: lf.lovasz_hinge.value_and_grad(x, m, out=grad, per_sample=per_sample),
                                 args.target_time)
            row = {"loss": "lovasz_hinge", "shape": [N, H, W], "per_sample": per_sample, "threads": threads,
                   "lossfn_s": t_lf, **acc}
            if use_torch:
                torch.set_num_threads(threads)
                row["torch_s"], _, _ = measure(torch_step, args.target_time, slow=(args.slow_time, args.very_slow_time))
            results.append(row)
            print(f"lovasz_hinge {N}x{H}x{W} per_sample={per_sample} threads={threads}: lossfn {fmt_t(t_lf)} "
                  f"({1e9 * t_lf / (N * H * W):.1f} ns/pixel)"
                  + (f", torch {fmt_t(row['torch_s'])} ({row['torch_s'] / t_lf:.1f}x)" if use_torch else ""),
                  flush=True)
    return results


def run(args):
    threads_list = parse_threads(args.threads)
    use_torch = torch is not None and not args.no_torch
    info = base_info(args, use_torch)
    info["cpu"] = cpu_model()
    bw = add_copy_bandwidth(info, args.copy_mb, threads_list)
    t0 = perf()
    results = []
    for (name, N, C, H, W, kind, logits) in CASES:
        p, t = inputs(N, C, H, W, kind, logits)
        grad = np.empty_like(p)
        loss = getattr(lf, name)
        kw = {"from_logits": logits}
        # Agreement with the float64 computation on the same numbers.
        _, g64 = loss.value_and_grad(p.astype(np.float64), t, **kw)
        _, g32 = loss.value_and_grad(p, t, **kw)
        scale = float(np.abs(g64).max())
        acc = {"lossfn_err": float(np.abs(g32 - g64).max()) / scale}
        if use_torch:
            pt = torch.from_numpy(p.copy()).requires_grad_(True)
            tt = torch.from_numpy(t)
            f = torch_loss(name, C, kind, logits)

            def torch_step():
                pt.grad = None
                f(pt, tt).backward()

            torch_step()
            acc["torch_err"] = float(np.abs(pt.grad.numpy() - g64).max()) / scale
        limit = bytes_moved(N, C, H, W, kind) / bw
        for threads in threads_list:
            lf.set_num_threads(threads)
            wait_quiet(args.quiet_wait)
            t_lf, _, _ = measure(lambda: loss.value_and_grad(p, t, out=grad, **kw), args.target_time)
            row = {"loss": name, "shape": [N, C, H, W], "target": kind, "from_logits": logits, "threads": threads,
                   "lossfn_s": t_lf, "limit_s": limit, **acc}
            if use_torch:
                torch.set_num_threads(threads)
                row["torch_s"], _, _ = measure(torch_step, args.target_time, slow=(args.slow_time, args.very_slow_time))
            results.append(row)
            print(f"{name} {N}x{C}x{H}x{W} {kind}{' logits' if logits else ''} threads={threads}: lossfn "
                  f"{fmt_t(t_lf)} ({limit_cell(row)} of the limit {fmt_t(limit)})"
                  + (f", torch {fmt_t(row['torch_s'])} ({row['torch_s'] / t_lf:.1f}x)" if use_torch else ""),
                  flush=True)
    results += run_lovasz(args, threads_list, use_torch)
    lf.set_num_threads(os.cpu_count() or 1)
    info["wall_s"] = perf() - t0
    return info, results


def goals(info, all_results):
    out = []
    results = [r for r in all_results if r["loss"] != "lovasz_hinge"]
    lovasz = [r for r in all_results if r["loss"] == "lovasz_hinge"]
    all_threads = max(r["threads"] for r in results)
    top = [r for r in results if r["threads"] == all_threads]
    for C, need in ((21, 5.0), (1, 3.0)):
        rows = [r for r in top if r["shape"][1] == C and "torch_s" in r]
        if rows:
            worst = min(r["torch_s"] / r["lossfn_s"] for r in rows)
            out.append((f"C = {C}: >= {need:.0f}x faster than torch with autograd, {all_threads} threads",
                        "PASS" if worst >= need else "FAIL", [f"smallest ratio {worst:.1f}x"]))
    mem = [r for r in top if not r["from_logits"] and r["target"] == "masks" and limit_cell(r) != "in cache"]
    worst = min(r["limit_s"] / r["lossfn_s"] for r in mem)
    out.append((f"value+grad of probabilities and masks at >= 70% of the memory limit, {all_threads} threads",
                "PASS" if worst >= 0.7 else "FAIL",
                [f"{r['loss']} C={r['shape'][1]}: {limit_cell(r)}" for r in mem]))
    rows = [r for r in lovasz if r["threads"] == all_threads and r["per_sample"] and "torch_s" in r]
    if rows:
        worst = min(r["torch_s"] / r["lossfn_s"] for r in rows)
        out.append((f"lovasz_hinge 8 x 512 x 512, per_sample=True: >= 10x Berman's torch implementation, "
                    f"{all_threads} threads", "PASS" if worst >= 10 else "FAIL", [f"ratio {worst:.1f}x"]))
    results = all_results
    err = max(r["lossfn_err"] for r in results)
    out.append(("float32 gradient within 1e-5 (relative to its largest entry) of the float64 computation",
                "PASS" if err <= 1e-5 else "FAIL", [f"lossfn {err:.1e}"]
                + ([f"torch float32 {max(r['torch_err'] for r in results if 'torch_err' in r):.1e}"]
                   if any("torch_err" in r for r in results) else [])))
    return out


def report(info, results, goal_rows):
    L = ["# Overlap losses: lossfn vs torch with autograd", "", "Generated by `bench/bench_segmentation.py`. "
         "Command (run from the repository root):", "", "```", info["command"], "```", "",
         f"- date: {info['date']}, wall time {info['wall_s'] / 60:.1f} min",
         f"- build_info: `{info['build_info']}`",
         f"- CPU: {info['cpu']}, os.cpu_count() = {info['cpu_count']}; NumPy {info['numpy']}, "
         f"torch {info['torch'] or 'not installed'}",
         f"- memory limit: bytes moved (20 B per element for float32 masks; labels 8 B per pixel) / "
         f"{info['copy_bw'] / 1e9:.1f} GB/s (STREAM {info['stream']['best']} on {info['stream']['threads']} "
         f"threads, {info['copy_mb']} MB arrays, same run)",
         "- float32, NCHW, smooth 1, statistics per class over the batch (segmentation-models' convention); "
         "torch: the same loss written with tensor ops, forward and backward; medians; the machine is shared "
         "and noisy: compare the ratios within a row.", "",
         "| loss | N x C x H x W | target | logits | threads | lossfn | % of memory limit | torch | torch / lossfn |",
         "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        if r["loss"] == "lovasz_hinge":
            continue
        ratio = f"{r['torch_s'] / r['lossfn_s']:.1f}x" if "torch_s" in r else "n/a"
        L.append(f"| {r['loss']} | {'x'.join(map(str, r['shape']))} | {r['target']} | {r['from_logits']} | "
                 f"{r['threads']} | {fmt_t(r['lossfn_s'])} | {limit_cell(r)} | "
                 f"{fmt_t(r['torch_s']) if 'torch_s' in r else 'n/a'} | {ratio} |")
    L += ["", "## Lovász hinge", "",
          "float32 logits, 0/1 masks (30 % ones); torch: Berman et al.'s lovasz_hinge (a loop over images, "
          "torch.sort, cumsum, autograd); lossfn: a stable LSD radix sort per segment (a sample per thread with "
          "per_sample=True, one sort over every thread for the batch with per_sample=False).", "",
          "| N x H x W | per_sample | threads | lossfn | ns / pixel | torch | torch / lossfn |",
          "|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        if r["loss"] != "lovasz_hinge":
            continue
        ratio = f"{r['torch_s'] / r['lossfn_s']:.1f}x" if "torch_s" in r else "n/a"
        pixels = r["shape"][0] * r["shape"][1] * r["shape"][2]
        L.append(f"| {'x'.join(map(str, r['shape']))} | {r['per_sample']} | {r['threads']} | {fmt_t(r['lossfn_s'])} | "
                 f"{1e9 * r['lossfn_s'] / pixels:.1f} | {fmt_t(r['torch_s']) if 'torch_s' in r else 'n/a'} | {ratio} |")
    return with_goals(L, goal_rows)


def main():
    report_main(__doc__, "segmentation", run, goals, report)


if __name__ == "__main__":
    sys.exit(main())
