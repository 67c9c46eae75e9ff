#!/usr/bin/env python3
"""CTC benchmark: lossfn value_and_grad vs torch ctc_loss forward + backward, float32, one run.

Run from the repository root::

    python bench/bench_ctc.py            # full run (about a minute on 2 cores)
    python bench/bench_ctc.py --quick    # smoke run: short timing

Every case (T, N, S, C) and thread count times

* lossfn  ``lf.ctc.value_and_grad(x, targets, il, tl, from_logits=True, out=grad)``: logits in,
          the logits' gradient out (log_softmax fused);
* torch   ``x.grad = None; F.ctc_loss(F.log_softmax(x, -1), ...).backward()`` on a leaf tensor
          made once, ``torch.set_num_threads`` = lossfn's thread count: what a torch user runs
          for the same numbers.

The cases are warp-ctc's published sizes (T = 150, N = 32, S = 40, C = 28 and C = 5000), a long
sequence (T = 1000, S = 200) in a batch of 8, and the same long sequence alone (a batch of one,
which torch runs on one thread). Labels are random, input lengths T, target lengths S. The
accuracy rows compare each float32 gradient with lossfn's float64 one on the same logits.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import lossfn as lf

from _common import (base_info, cpu_model, fmt_t, measure, parse_threads, perf, report_main, torch, wait_quiet,
                     with_goals)

CASES = [  # (T, N, S, C)
    (150, 32, 40, 28),
    (150, 32, 40, 5000),
    (1000, 8, 200, 28),
    (1000, 1, 200, 28),
    (1000, 1, 200, 5000),
]


def inputs(T, N, S, C, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 2.0, (T, N, C)).astype(np.float32)
    targets = rng.integers(1, C, (N, S)).astype(np.int64)
    # No repeated neighbours: every sample feasible at T >= S.
    for b in range(N):
        for i in range(1, S):
            while targets[b, i] == targets[b, i - 1]:
                targets[b, i] = rng.integers(1, C)
    return x, targets, np.full(N, T, np.int64), np.full(N, S, np.int64)


def run(args):
    threads_list = parse_threads(args.threads)
    use_torch = torch is not None and not args.no_torch
    info = base_info(args, use_torch)
    info["cpu"] = cpu_model()
    t0 = perf()
    results = []
    for (T, N, S, C) in CASES:
        x, targets, il, tl = inputs(T, N, S, C)
        grad = np.empty_like(x)
        # Accuracy against lossfn's float64 computation on the same numbers.
        _, g64 = lf.ctc.value_and_grad(x.astype(np.float64), targets, il, tl, from_logits=True, reduction="sum")
        _, g32 = lf.ctc.value_and_grad(x, targets, il, tl, from_logits=True, reduction="sum")
        acc = {"lossfn_err": float(np.abs(g32 - g64).max())}
        if use_torch:
            F = torch.nn.functional
            xt = torch.from_numpy(x.copy()).requires_grad_(True)
            tt, ilt, tlt = torch.from_numpy(targets), torch.from_numpy(il), torch.from_numpy(tl)

            def torch_step(reduction="mean"):
                xt.grad = None
                F.ctc_loss(F.log_softmax(xt, -1), tt, ilt, tlt, reduction=reduction).backward()

            torch_step("sum")
            acc["torch_err"] = float(np.abs(xt.grad.numpy() - g64).max())
        for threads in threads_list:
            lf.set_num_threads(threads)
            wait_quiet(args.quiet_wait)
            t_lf, _, _ = measure(lambda: lf.ctc.value_and_grad(x, targets, il, tl, from_logits=True, out=grad),
                                 args.target_time)
            row = {"T": T, "N": N, "S": S, "C": C, "threads": threads, "lossfn_s": t_lf, **acc}
            if use_torch:
                torch.set_num_threads(threads)
                row["torch_s"], _, _ = measure(torch_step, args.target_time, slow=(args.slow_time, args.very_slow_time))
            results.append(row)
            print(f"T={T} N={N} S={S} C={C} threads={threads}: lossfn {fmt_t(t_lf)}"
                  + (f", torch {fmt_t(row['torch_s'])} ({row['torch_s'] / t_lf:.1f}x)" if use_torch else ""),
                  flush=True)
    lf.set_num_threads(os.cpu_count() or 1)
    info["wall_s"] = perf() - t0
    return info, results


def goals(info, results):
    out = []
    with_torch = [r for r in results if "torch_s" in r and r["N"] > 1]
    if with_torch:
        worst = min(r["torch_s"] / r["lossfn_s"] for r in with_torch)
        out.append(("lossfn >= 4x faster than torch (forward + backward), every batched case and thread count",
                    "PASS" if worst >= 4 else "FAIL", [f"smallest ratio {worst:.1f}x"]))
    all_threads = max(r["threads"] for r in results)
    for (T, N, S, C) in CASES:
        if N != 1 or all_threads == 1:
            continue
        one = [r for r in results if (r["T"], r["N"], r["S"], r["C"]) == (T, N, S, C)]
        t1 = min(r["lossfn_s"] for r in one if r["threads"] == 1)
        tn = min(r["lossfn_s"] for r in one if r["threads"] == all_threads)
        out.append((f"a batch of one (T={T}, S={S}, C={C}) on {all_threads} threads >= 1.5x its 1-thread speed",
                    "PASS" if t1 / tn >= 1.5 else "FAIL", [f"{t1 / tn:.2f}x ({fmt_t(t1)} -> {fmt_t(tn)})"]))
    err = max(r["lossfn_err"] for r in results)
    out.append(("float32 gradient within 1e-6 of the float64 computation", "PASS" if err <= 1e-6 else "FAIL",
                [f"lossfn max |g32 - g64| = {err:.1e}"]
                + ([f"torch float32: {max(r['torch_err'] for r in results if 'torch_err' in r):.1e}"]
                   if any("torch_err" in r for r in results) else [])))
    return out


def report(info, results, goal_rows):
    L = ["# CTC: lossfn vs torch ctc_loss", "", "Generated by `bench/bench_ctc.py`. Command (run from the "
         "repository root):", "", "```", info["command"], "```", "",
         f"- date: {info['date']}, wall time {info['wall_s'] / 60:.1f} min",
         f"- build_info: `{info['build_info']}`",
         f"- CPU: {info['cpu']}, os.cpu_count() = {info['cpu_count']}; NumPy {info['numpy']}, "
         f"torch {info['torch'] or 'not installed'}",
         "- float32 logits in, the logits' gradient out (lossfn `from_logits=True`; torch "
         "`log_softmax` + `ctc_loss`, forward and backward); medians; the machine is shared and noisy: "
         "compare the ratios within a row.", "",
         "| T | N | S | C | threads | lossfn | torch | torch / lossfn | lossfn ns per logit |",
         "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        per = r["lossfn_s"] / (r["T"] * r["N"] * r["C"]) * 1e9
        ratio = f"{r['torch_s'] / r['lossfn_s']:.1f}x" if "torch_s" in r else "n/a"
        L.append(f"| {r['T']} | {r['N']} | {r['S']} | {r['C']} | {r['threads']} | {fmt_t(r['lossfn_s'])} | "
                 f"{fmt_t(r['torch_s']) if 'torch_s' in r else 'n/a'} | {ratio} | {per:.2f} |")
    L += ["", "## Accuracy (max |g32 - g64| of the summed loss's gradient)", "",
          "| T | N | S | C | lossfn float32 | torch float32 |", "|---:|---:|---:|---:|---:|---:|"]
    seen = set()
    for r in results:
        key = (r["T"], r["N"], r["S"], r["C"])
        if key in seen:
            continue
        seen.add(key)
        torch_err = f"{r['torch_err']:.1e}" if "torch_err" in r else "n/a"
        L.append(f"| {r['T']} | {r['N']} | {r['S']} | {r['C']} | {r['lossfn_err']:.1e} | {torch_err} |")
    return with_goals(L, goal_rows)


def main():
    report_main(__doc__, "ctc", run, goals, report, copy_mb=False)


if __name__ == "__main__":
    sys.exit(main())
