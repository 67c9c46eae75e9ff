#!/usr/bin/env python3
"""Pair-loss benchmark: lossfn contrastive / triplet / cosine_embedding / margin_ranking /
hinge_embedding and center_loss value_and_grad vs torch's functions (contrastive and center_loss
written in torch) forward and backward with autograd, float32, against the memory limit, in one run.

Run from the repository root::

    python bench/bench_metric.py            # full run (about a minute on 2 cores)
    python bench/bench_metric.py --quick    # smoke run: short timing, no report

Every case times

* lossfn  ``lf.<loss>.value_and_grad(*inputs, out=grads)`` (rows (N, D) of float32 embeddings, or
          N values for the elementwise losses, and float32 labels);
* torch   the inputs as leaf tensors made once, their ``.grad`` reset, then
          ``F.<loss>(...).backward()`` (``torch.set_num_threads`` = lossfn's thread count).

The memory limit is the bytes a fused kernel must move: read every input and write a gradient of
each embedding input (float32: 4 B each per value; the labels 4 B per sample; center_loss reads
the features twice, once per pass), over the best STREAM-style bandwidth on all threads
(``bench/stream.cpp``, same run).
"""

from __future__ import annotations

import os
import sys

import numpy as np

import lossfn as lf
from lossfn.registry import PAIR_SPECS

from _common import (add_copy_bandwidth, base_info, cpu_model, fmt_t, measure, parse_threads, perf, report_main,
                     torch, wait_quiet, with_goals)

ROWS, DIM, VALUES, CLASSES = 65536, 128, 1 << 22, 1000
SPECS = {spec.name: spec for spec in PAIR_SPECS}


def inputs(name, rng):
    spec = SPECS[name]
    shape = (VALUES,) if spec.elementwise else (ROWS, DIM)
    floats = len(spec.inputs) - (1 if spec.labels else 0)
    x = [rng.standard_normal(shape, dtype=np.float32) for _ in range(floats)]
    if spec.labels:
        y = rng.integers(0, 2, shape[0]) if name == "contrastive" else rng.choice([-1, 1], shape[0])
        x.append(y.astype(np.float32))
    return x


def peer(name):
    if torch is None:
        return None
    F = torch.nn.functional

    def contrastive(x1, x2, y, margin=1.0):
        d = torch.linalg.vector_norm(x1 - x2, dim=-1)
        return (0.5 * (y * d ** 2 + (1 - y) * torch.clamp(margin - d, min=0) ** 2)).mean()

    return {"contrastive": contrastive, "triplet": F.triplet_margin_loss, "cosine_embedding": F.cosine_embedding_loss,
            "margin_ranking": F.margin_ranking_loss, "hinge_embedding": F.hinge_embedding_loss}[name]


def run(args):
    threads_list = parse_threads(args.threads)
    info = base_info(args, torch is not None and not args.no_torch)
    info["cpu"] = cpu_model()
    bw = add_copy_bandwidth(info, args.copy_mb, threads_list)
    t0 = perf()
    results = []
    rng = np.random.default_rng(0)
    for name in SPECS:
        loss = getattr(lf, name)
        x = inputs(name, rng)
        spec = loss.spec
        grads = tuple(np.empty_like(x[0]) for _ in range(len(loss.differentiable_inputs)))
        out = grads if len(grads) > 1 else grads[0]
        moved = sum(a.nbytes for a in x) + sum(g.nbytes for g in grads)
        fn = None if args.no_torch else peer(name)
        if fn is not None:
            floats = len(spec.inputs) - (1 if spec.labels else 0)
            tx = [torch.from_numpy(a.copy()).requires_grad_(k < floats) for k, a in enumerate(x)]

            def peer_step():
                for t in tx[:floats]:
                    t.grad = None
                fn(*tx).backward()
        for threads in threads_list:
            lf.set_num_threads(threads)
            wait_quiet(args.quiet_wait)
            t_lf, _, _ = measure(lambda: loss.value_and_grad(*x, out=out), args.target_time)
            row = {"loss": name, "shape": list(x[0].shape), "threads": threads, "lossfn_s": t_lf, "limit_s": moved / bw}
            if fn is not None:
                torch.set_num_threads(threads)
                row["peer_s"], _, _ = measure(peer_step, args.target_time, slow=(args.slow_time, args.very_slow_time))
            results.append(row)
            print(f"{name} {'x'.join(map(str, x[0].shape))} threads={threads}: lossfn {fmt_t(t_lf)} "
                  f"({100 * row['limit_s'] / t_lf:.0f}% of the memory limit)"
                  + (f", torch {fmt_t(row['peer_s'])} ({row['peer_s'] / t_lf:.1f}x)" if "peer_s" in row else ""),
                  flush=True)
    results += run_center(args, threads_list, bw, rng)
    lf.set_num_threads(os.cpu_count() or 1)
    info["wall_s"] = perf() - t0
    return info, results


def run_center(args, threads_list, bw, rng):
    """center_loss value and both gradients over ROWS samples of DIM features and CLASSES centers,
    against torch (index the centers, the mean of |x - c|^2 / 2, autograd)."""
    x = rng.standard_normal((ROWS, DIM), dtype=np.float32)
    labels = rng.integers(0, CLASSES, ROWS)
    centers = rng.standard_normal((CLASSES, DIM), dtype=np.float32)
    out = (np.empty_like(x), np.empty_like(centers))
    moved = 2 * x.nbytes + 2 * centers.nbytes + labels.nbytes + x.nbytes  # x twice (two passes), c, g_x, g_c
    results = []
    if not args.no_torch and torch is not None:
        tx, tc = torch.from_numpy(x.copy()).requires_grad_(True), torch.from_numpy(centers.copy()).requires_grad_(True)
        ty = torch.from_numpy(labels)

        def peer_step():
            tx.grad = tc.grad = None
            (((tx - tc[ty]) ** 2).sum(dim=1).mean() / 2).backward()
    for threads in threads_list:
        lf.set_num_threads(threads)
        wait_quiet(args.quiet_wait)
        t_lf, _, _ = measure(lambda: lf.center_loss.value_and_grad(x, labels, centers, out=out), args.target_time)
        row = {"loss": "center_loss", "shape": [ROWS, DIM], "threads": threads, "lossfn_s": t_lf, "limit_s": moved / bw}
        if not args.no_torch and torch is not None:
            torch.set_num_threads(threads)
            row["peer_s"], _, _ = measure(peer_step, args.target_time, slow=(args.slow_time, args.very_slow_time))
        results.append(row)
        print(f"center_loss {ROWS}x{DIM}, {CLASSES} classes, threads={threads}: lossfn {fmt_t(t_lf)} "
              f"({100 * row['limit_s'] / t_lf:.0f}% of the memory limit)"
              + (f", torch {fmt_t(row['peer_s'])} ({row['peer_s'] / t_lf:.1f}x)" if "peer_s" in row else ""), flush=True)
    return results


def goals(info, results):
    rows = [r for r in results if "peer_s" in r]
    out = [("value+grad faster than torch's forward+backward for every loss, one thread and all (reported)", "INFO",
            [f"{r['loss']} {'x'.join(map(str, r['shape']))}, {r['threads']} threads: {r['peer_s'] / r['lossfn_s']:.1f}x"
             for r in rows])]
    all_threads = max(r["threads"] for r in results)
    out.append((f"share of the memory limit on {all_threads} threads (reported)", "INFO",
                [f"{r['loss']}: {100 * r['limit_s'] / r['lossfn_s']:.0f}%" for r in results if r["threads"] == all_threads]))
    return out


def report(info, results, goal_rows):
    L = ["# Pair losses: lossfn vs torch", "",
         "Generated by `bench/bench_metric.py`. Command (run from the repository root):", "", "```", info["command"],
         "```", "",
         f"- date: {info['date']}, wall time {info['wall_s'] / 60:.1f} min",
         f"- build_info: `{info['build_info']}`",
         f"- CPU: {info['cpu']}, os.cpu_count() = {info['cpu_count']}; NumPy {info['numpy']}, "
         f"torch {info['torch'] or 'not installed'}",
         f"- memory limit: the inputs read once and each gradient written once (float32) / {info['copy_bw'] / 1e9:.1f} "
         f"GB/s (STREAM {info['stream']['best']} on {info['stream']['threads']} threads, same run)",
         f"- rows of {DIM} float32 features ({ROWS} of them), or {VALUES} values for the elementwise losses; value and "
         "gradients; torch forward and backward with autograd on the same threads; medians; the machine is shared and "
         "noisy: compare the ratios within a row.", "",
         "| loss | shape | threads | lossfn | memory limit | torch | torch / lossfn |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        peer = (f"{fmt_t(r['peer_s'])} | {r['peer_s'] / r['lossfn_s']:.1f}x" if "peer_s" in r else "n/a | n/a")
        L.append(f"| {r['loss']} | {'x'.join(map(str, r['shape']))} | {r['threads']} | {fmt_t(r['lossfn_s'])} | "
                 f"{100 * r['limit_s'] / r['lossfn_s']:.0f}% | {peer} |")
    return with_goals(L, goal_rows)


def main():
    report_main(__doc__, "metric", run, goals, report)


if __name__ == "__main__":
    sys.exit(main())
