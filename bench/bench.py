#!/usr/bin/env python3
"""Elementwise loss benchmark: lossfn fused value_and_grad vs the NumPy reference vs PyTorch autograd.

Run from the repository root::

    python bench/bench.py                         # full default run (~10 min on 2 cores)
    python bench/bench.py --sizes 1e3,1e6 --losses mse,huber --dtypes float32 --threads all

Every cell (loss, N, dtype, threads) times

* lossfn   ``lf.<loss>.value_and_grad(pred, target, out=grad)`` into a preallocated ``grad``,
* NumPy    ``lf.<loss>.reference.value_and_grad(pred, target)`` (float64 arithmetic,
           single-threaded: measured once per (loss, N, dtype) and shown in every thread table),
* torch    ``x.grad = None; loss = F.<loss>(x, t); loss.backward()`` on a leaf tensor made once
           with ``torch.from_numpy`` (``torch.set_num_threads`` = lossfn's thread count),

and compares them with the memory-bound limit: bytes moved / the best STREAM-style copy or triad
bandwidth on all threads (``bench/stream.cpp``, with and without non-temporal stores). It also
times the per-call cost of ``lf.mse`` at N = 1000 against ``np.mean((p - t)**2)`` and torch.
See bench/README.md for the meaning of every column.
"""

from __future__ import annotations

import gc
import math
import sys

import numpy as np

import lossfn as lf

from _common import (F, NOISY_CPU, add_copy_bandwidth, add_run_args, add_timing_args,
                     agreement_lines, base_info, remeasure_limit, contended_mark, contention_lines, finish_info,
                     fmt_n, fmt_t, fmt_x, goal_lines, make_parser, measure, measure_lossfn,
                     measure_with_load, parse_threads, per_call_costs, perf, report_head, run_and_write,
                     timing_line, torch)

DEFAULT_SIZES = "1e3,1e4,1e5,1e6,1e7,2e7,5e7"
DEFAULT_LOSSES = "mse,mae,huber,log_cosh,bce_with_logits,sigmoid_focal,bce,hinge,soft_margin"
PLOT_LOSSES = ["mse", "huber", "log_cosh", "bce_with_logits", "sigmoid_focal", "bce", "hinge",
               "soft_margin", "mae"]


# ----------------------------------------------------------------------------------------------
# PyTorch equivalents (value of the mean-reduced loss; backward() gives the gradient).
# ----------------------------------------------------------------------------------------------

def _torch_sigmoid_focal(x, t, alpha=0.25, gamma=2.0):
    # torchvision.ops.sigmoid_focal_loss, reduction="mean", written with torch ops.
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** gamma)
    alpha_t = alpha * t + (1 - alpha) * (1 - t)
    return (alpha_t * loss).mean()


TORCH_LOSSES = {}
if torch is not None:
    TORCH_LOSSES = {
        "mse": lambda x, t: F.mse_loss(x, t),
        "mae": lambda x, t: F.l1_loss(x, t),
        "huber": lambda x, t: F.huber_loss(x, t, delta=1.0),
        "smooth_l1": lambda x, t: F.smooth_l1_loss(x, t, beta=1.0),
        # No torch builtin: the naive composition (what a user would write).
        "log_cosh": lambda x, t: torch.log(torch.cosh(x - t)).mean(),
        "bce_with_logits": lambda x, t: F.binary_cross_entropy_with_logits(x, t),
        "sigmoid_focal": _torch_sigmoid_focal,
        "bce": lambda x, t: F.binary_cross_entropy(x, t),
        "hinge": lambda x, t: torch.clamp(1 - t * x, min=0).mean(),
        "squared_hinge": lambda x, t: (torch.clamp(1 - t * x, min=0) ** 2).mean(),
        "soft_margin": lambda x, t: F.soft_margin_loss(x, t),
        "poisson_nll": lambda x, t: F.poisson_nll_loss(x, t, log_input=True, full=False),
        "gaussian_nll": lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=False, eps=1e-6),
    }


# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------

class Inputs:
    """Arrays of one (N, dtype), generated lazily per domain and shared between losses."""

    def __init__(self, n, dtype, seed=0):
        self.n, self.dtype = n, np.dtype(dtype)
        self.rng = np.random.default_rng(seed)
        self.cache = {}

    def get(self, key):
        if key not in self.cache:
            n, dt, rng = self.n, self.dtype, self.rng
            domain = key.split(":", 1)[1]
            if domain in ("real", "logit"):
                a = rng.standard_normal(n, dtype=dt)
            elif domain == "prob":
                a = (rng.random(n, dtype=dt) * 0.98 + 0.01).astype(dt, copy=False)
            elif domain == "positive":
                a = (rng.random(n, dtype=dt) * 1.9 + 0.1).astype(dt, copy=False)
            elif domain in ("binary01", "soft01"):
                a = (rng.random(n) < 0.5).astype(dt)
            elif domain == "sign":
                a = np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(dt)
            elif domain == "count":
                a = rng.poisson(3.0, n).astype(dt)
            else:
                a = rng.standard_normal(n, dtype=dt)
            self.cache[key] = a
        return self.cache[key]

    def for_loss(self, loss):
        """(pred, target[, aux]) for this loss, following loss.spec's domain strings."""
        arrays = [self.get("pred:" + loss.spec.pred), self.get("target:" + loss.spec.target)]
        if len(loss.inputs) == 3:  # e.g. gaussian_nll's variance
            arrays.append(self.get("aux:positive"))
        return arrays


def grad_buffers(loss, arrays):
    """Preallocated out= for value_and_grad: one array per differentiable input."""
    n_diff = len(loss.differentiable_inputs)
    bufs = tuple(np.empty_like(arrays[0]) for _ in range(n_diff))
    return bufs[0] if n_diff == 1 else bufs


def bytes_per_element(loss, dtype):
    """Memory traffic of a fused elementwise value_and_grad: read every input, write every grad."""
    return (len(loss.inputs) + len(loss.differentiable_inputs)) * np.dtype(dtype).itemsize


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------

def parse_sizes(text):
    return [int(float(s)) for s in text.split(",") if s.strip()]



# ----------------------------------------------------------------------------------------------
# Agreement check: the three implementations compute the same loss (else the timing is moot).
# ----------------------------------------------------------------------------------------------

def agreement(loss_names, n=1000):
    rows = []
    inp = Inputs(n, np.float64, seed=1)
    for name in loss_names:
        loss = getattr(lf, name)
        arrays = inp.for_loss(loss)
        rv, rg = loss.reference.value_and_grad(*arrays)
        lv, lg = loss.value_and_grad(*arrays)
        rg0 = rg[0] if isinstance(rg, tuple) else rg
        lg0 = lg[0] if isinstance(lg, tuple) else lg
        scale = np.max(np.abs(rg0)) or 1.0
        row = {"loss": name, "value_rel": abs(lv - rv) / max(abs(rv), 1e-300),
               "grad_rel": float(np.max(np.abs(lg0 - rg0)) / scale)}
        tf = TORCH_LOSSES.get(name)
        if tf is not None:
            ts = [torch.from_numpy(a.copy()) for a in arrays]
            ts[0].requires_grad_(True)
            val = tf(*ts)
            val.backward()
            row["torch_value_rel"] = abs(val.item() - rv) / max(abs(rv), 1e-300)
            row["torch_grad_rel"] = float(np.max(np.abs(ts[0].grad.numpy() - rg0)) / scale)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------
# Benchmark
# ----------------------------------------------------------------------------------------------

def run(args):
    sizes = parse_sizes(args.sizes)
    dtypes = [np.dtype(d) for d in args.dtypes.split(",") if d.strip()]
    threads = parse_threads(args.threads)
    names = [s.strip() for s in args.losses.split(",") if s.strip()]
    for name in names:
        if not isinstance(getattr(lf, name, None), lf.ElementwiseLoss):
            sys.exit(f"unknown loss {name!r}; lf.losses() lists {[l.name for l in lf.losses()]}")
    use_torch = torch is not None and not args.no_torch

    t_start = perf()
    info = base_info(args, use_torch, sizes=sizes, dtypes=[str(d) for d in dtypes],
                     threads=threads, losses=names, ref_max_n=args.ref_max_n)
    bw = add_copy_bandwidth(info, args.copy_mb, threads)
    info["per_call"] = per_call_costs()
    print("per call, lf.mse at N = 1000 float64: " + ", ".join(f"{k} {v * 1e6:.2f} us" for k, v in info["per_call"].items()),
          flush=True)

    info["agreement"] = agreement(names)
    for row in info["agreement"]:
        if max(v for k, v in row.items() if k != "loss") > 1e-6:
            print(f"WARNING: implementations disagree for {row['loss']}: {row}", flush=True)

    slow = (args.slow_time, args.very_slow_time)
    quiet_budget = [args.quiet_budget]  # seconds of waiting for quiet CPUs left for the run
    results = []
    total = len(sizes) * len(dtypes) * len(threads) * len(names)
    done = 0
    for dtype in dtypes:
        for n in sizes:
            inp = Inputs(n, dtype)
            for name in names:
                loss = getattr(lf, name)
                arrays = inp.for_loss(loss)
                out = grad_buffers(loss, arrays)
                bpe = bytes_per_element(loss, dtype)
                limit = n * bpe / bw
                ref_t = None
                tf = TORCH_LOSSES.get(name) if use_torch else None
                tensors = None
                if tf is not None:
                    # Leaf tensors sharing the NumPy arrays' memory (made once, outside timing);
                    # pred (and an aux input such as a variance) require grad.
                    tensors = [torch.from_numpy(a) for a in arrays]
                    for i in (0, 2)[:len(tensors) - 1]:
                        tensors[i].requires_grad_(True)
                    leaves = [tensors[i] for i in (0, 2)[:len(tensors) - 1]]

                    def torch_step(tf=tf, tensors=tensors, leaves=leaves):
                        for leaf in leaves:
                            leaf.grad = None
                        tf(*tensors).backward()
                for nt in threads:
                    lf.set_num_threads(nt)
                    if use_torch:
                        torch.set_num_threads(nt)
                    done += 1
                    rec = {"loss": name, "n": n, "dtype": str(dtype), "threads": nt,
                           "bytes_per_elem": bpe, "limit": limit}
                    # lossfn; re-measured (after waiting for a quiet moment) when other
                    # processes used the CPUs meanwhile, keeping the least contended attempt.
                    (rec["lossfn"], rec["lossfn_reps"], rec["lossfn_inner"]), \
                        rec["other_load"], rec["lossfn_attempt"] = measure_lossfn(
                            lambda: loss.value_and_grad(*arrays, out=out), args, quiet_budget)
                    # The NumPy reference ignores the thread setting: time it once per cell group.
                    if ref_t is None:
                        if n > args.ref_max_n:
                            ref_t = ("skipped", 0)
                        else:
                            t, reps, _ = measure(lambda: loss.reference.value_and_grad(*arrays),
                                                 args.target_time, slow=slow)
                            ref_t = (t, reps)
                    rec["numpy"], rec["numpy_reps"] = ref_t
                    if tf is not None:
                        (rec["torch"], rec["torch_reps"], _), rec["other_load_torch"] = \
                            measure_with_load(torch_step, args.target_time, slow=slow)
                    else:
                        rec["torch"], rec["torch_reps"] = None, 0
                    results.append(rec)
                    pct = 100 * limit / rec["lossfn"]
                    busy = rec["other_load"]
                    print(f"[{done:3d}/{total} {perf() - t_start:5.0f}s] {dtype} t={nt} {name:<16s} N={fmt_n(n):<5s} "
                          f"lossfn {fmt_t(rec['lossfn']):>9s} | numpy {fmt_t(rec['numpy']):>9s} "
                          f"| torch {fmt_t(rec['torch']):>9s} | limit {fmt_t(limit):>9s} "
                          f"({pct:5.1f}%) | vs torch {fmt_x(rec['torch'], rec['lossfn']):>5s} "
                          f"vs numpy {fmt_x(rec['numpy'], rec['lossfn']):>5s}"
                          + (f" | other procs {busy:.2f} CPU" if busy is not None and busy >= 0.1
                             else ""), flush=True)
                del tensors
            del inp
            gc.collect()
    remeasure_limit(info, results)
    finish_info(info, t_start)
    return info, results


# ----------------------------------------------------------------------------------------------
# Goals
# ----------------------------------------------------------------------------------------------

def evaluate_goals(info, results):
    """[(title, status, [lines])] for the three targets, from the measured data only."""
    all_t = max(info["threads"])
    idx = {(r["loss"], r["n"], r["dtype"], r["threads"]): r for r in results}
    goals = []

    def ok(flag):
        return "PASS" if flag else "FAIL"

    def noise(r):
        o = r.get("other_load")
        return (f" [contended: other processes used {o:.2f} CPU while it was timed]"
                if o is not None and o >= NOISY_CPU else "")

    # (1) float32 mse at N=2e7, all threads.
    title = (f"(1) float32 mse value_and_grad, N=2e7, {all_t} threads: >= 80% of the memory-bound "
             f"limit, >= 4x faster than torch and >= 4x faster than the NumPy reference")
    r = idx.get(("mse", 20_000_000, "float32", all_t))
    if r is None:
        goals.append((title, "NOT MEASURED", ["mse / N=2e7 / float32 / all threads not in this run"]))
    else:
        lines, flags = [], []
        pct = 100 * r["limit"] / r["lossfn"]
        flags.append(pct >= 80)
        lines.append(f"{ok(pct >= 80)}: {pct:.1f}% of the memory-bound limit (lossfn "
                     f"{fmt_t(r['lossfn'])}, limit {fmt_t(r['limit'])} = {r['bytes_per_elem']} B x "
                     f"2e7 / {info['copy_bw'] / 1e9:.2f} GB/s)" + noise(r))
        for key, label in (("torch", "torch"), ("numpy", "NumPy reference")):
            v = r[key]
            if isinstance(v, float):
                s = v / r["lossfn"]
                flags.append(s >= 4)
                lines.append(f"{ok(s >= 4)}: {s:.1f}x faster than {label} ({fmt_t(v)} vs "
                             f"{fmt_t(r['lossfn'])})")
            else:
                flags.append(False)
                lines.append(f"FAIL: {label} not measured ({fmt_t(v)})")
        goals.append((title, ok(all(flags)), lines))

    # (2) log_cosh, bce_with_logits, sigmoid_focal <= 1.5x mse at N=2e7 float32 all threads.
    title = (f"(2) log_cosh, bce_with_logits, sigmoid_focal at N=2e7, float32, {all_t} threads: "
             f"each <= 1.5x mse's time")
    base = idx.get(("mse", 20_000_000, "float32", all_t))
    lines, flags = [], []
    for name in ("log_cosh", "bce_with_logits", "sigmoid_focal"):
        r = idx.get((name, 20_000_000, "float32", all_t))
        if r is None or base is None:
            flags.append(False)
            lines.append(f"NOT MEASURED: {name}")
            continue
        ratio = r["lossfn"] / base["lossfn"]
        flags.append(ratio <= 1.5)
        lines.append(f"{ok(ratio <= 1.5)}: {name} {fmt_t(r['lossfn'])} = {ratio:.2f}x mse "
                     f"({fmt_t(base['lossfn'])}); {100 * r['limit'] / r['lossfn']:.0f}% of the "
                     f"memory-bound limit" + noise(r))
    goals.append((title, ok(all(flags)) if base is not None else "NOT MEASURED", lines))

    # (3) N=1000 float32: lossfn >= 3x cheaper than torch and than NumPy, per loss.
    title = ("(3) N=1e3, float32: a lossfn call costs >= 3x less than torch's and than NumPy's "
             "for the same loss (every thread setting measured)")
    lines, flags = [], []
    for r in results:
        if r["n"] != 1000 or r["dtype"] != "float32":
            continue
        parts, row_flags = [], []
        for key, label in (("torch", "torch"), ("numpy", "NumPy")):
            v = r[key]
            if isinstance(v, float):
                s = v / r["lossfn"]
                row_flags.append(s >= 3)
                parts.append(f"{s:.1f}x vs {label} ({fmt_t(v)})")
            else:
                parts.append(f"{label} {fmt_t(v)} (not counted)")
        flags.extend(row_flags)
        lines.append(f"{ok(all(row_flags))}: {r['loss']}, {r['threads']} thread(s): lossfn "
                     f"{fmt_t(r['lossfn'])}; " + "; ".join(parts))
    goals.append((title, ok(all(flags)) if lines else "NOT MEASURED",
                  lines or ["no N=1e3 float32 cell in this run"]))
    return goals


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------

def observations(info, results):
    """Markdown lines: each loss's lossfn time relative to mse, and its thread scaling, at the
    largest N measured (computed from the data, to spot kernels far from the memory bound)."""
    idx = {(r["loss"], r["n"], r["dtype"], r["threads"]): r for r in results}
    n = max(info["sizes"])
    t1, tall = min(info["threads"]), max(info["threads"])
    dtypes = info["dtypes"]
    if "mse" not in info["losses"]:
        return []
    L = [f"## Observations (N = {fmt_n(n)}, from the data above)", "",
         f"lossfn time relative to mse at the same dtype and {tall} threads, % of the "
         f"memory-bound limit, and thread scaling (time with {t1} thread / time with {tall}).",
         ""]
    head = "| loss |" + "".join(f" x mse {d} | % limit {d} | scaling {d} |" for d in dtypes)
    L += [head, "|---|" + "---:|---:|---:|" * len(dtypes)]
    for name in info["losses"]:
        row = f"| {name} |"
        for d in dtypes:
            r, b = idx.get((name, n, d, tall)), idx.get(("mse", n, d, tall))
            r1 = idx.get((name, n, d, t1))
            if r is None or b is None:
                row += " n/a | n/a | n/a |"
                continue
            row += (f" {r['lossfn'] / b['lossfn']:.2f} | {100 * r['limit'] / r['lossfn']:.0f}% |"
                    f" {r1['lossfn'] / r['lossfn']:.2f} |" if r1 else " n/a |")
        L.append(row)
    L.append("")
    return L


def write_report(path, info, results, goals, png_name):
    L = report_head("lossfn elementwise benchmark: fused value_and_grad vs NumPy reference vs "
                    "PyTorch", "bench/bench.py", info)
    L.append(f"- memory-bound limit of a cell = N x bytes/element / STREAM bandwidth; bytes/element "
             f"= (inputs read + gradients written) x itemsize = 12 (float32) or 24 (float64) for "
             f"the two-input losses")
    L.append(timing_line(info) + f" The NumPy "
             f"reference is single-threaded and measured once per (loss, N, dtype); it is "
             f"skipped above N = {fmt_n(info['ref_max_n'])}.")
    L.extend(contention_lines(info, results))
    L.append("")
    L.extend(goal_lines(goals))
    L.extend(observations(info, results))
    L.extend(agreement_lines("float64, N=1e3, max relative difference from the NumPy reference",
                             info["agreement"], [("loss", "loss")]))
    L.append("## Results")
    L.append("")
    L.append("Columns: times are the median per call. *% of limit* = memory-limit time / lossfn "
             "time (100% = moving the cell's bytes at the best STREAM bandwidth of the machine on "
             "all threads; cells small enough to sit in the caches can exceed it, memory-resident "
             "ones cannot — the report's limit goal checks that). "
             "*vs torch* / *vs NumPy* = their time / lossfn time (how many times faster lossfn "
             "is). torch for log_cosh is the naive `torch.log(torch.cosh(x - t)).mean()`; "
             "sigmoid_focal is torchvision's formula written with torch ops.")
    L.append("")
    L.append(f"![throughput]({png_name})")
    L.append("")
    for dtype in info["dtypes"]:
        for nt in info["threads"]:
            rows = [r for r in results if r["dtype"] == dtype and r["threads"] == nt]
            if not rows:
                continue
            L.append(f"### {dtype}, {nt} thread{'s' if nt > 1 else ''}")
            L.append("")
            L.append("| loss | N | lossfn | NumPy ref | torch | memory limit | % of limit | "
                     "vs torch | vs NumPy |")
            L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            for name in info["losses"]:
                for r in rows:
                    if r["loss"] != name:
                        continue
                    mark = contended_mark(r)
                    L.append(f"| {name} | {fmt_n(r['n'])} | {fmt_t(r['lossfn'])}{mark} | "
                             f"{fmt_t(r['numpy'])} | {fmt_t(r['torch'])} | {fmt_t(r['limit'])} | "
                             f"{100 * r['limit'] / r['lossfn']:.0f}% | "
                             f"{fmt_x(r['torch'], r['lossfn'])} | {fmt_x(r['numpy'], r['lossfn'])} |")
            L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def write_plot(path, info, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtype = "float32" if "float32" in info["dtypes"] else info["dtypes"][0]
    nt = max(info["threads"])
    rows = [r for r in results if r["dtype"] == dtype and r["threads"] == nt]
    names = [n for n in PLOT_LOSSES if n in info["losses"]] or info["losses"]
    names = names[:8]
    panels = names + ["__all__"]
    ncol = 3
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.4 * nrow + 0.6), squeeze=False,
                             sharex=True, sharey=True)
    bw = info["copy_bw"] / 1e9
    styles = {"lossfn": ("C0", "o"), "numpy": ("C2", "s"), "torch": ("C3", "^")}
    labels = {"lossfn": "lossfn value_and_grad", "numpy": "NumPy reference",
              "torch": "torch forward+backward"}
    for ax, name in zip(axes.flat, panels):
        if name == "__all__":
            for i, loss in enumerate(info["losses"]):
                rs = sorted((r for r in rows if r["loss"] == loss), key=lambda r: r["n"])
                ax.plot([r["n"] for r in rs],
                        [r["n"] * r["bytes_per_elem"] / r["lossfn"] / 1e9 for r in rs],
                        marker=".", color=f"C{i % 10}", label=loss, lw=1)
            ax.set_title("lossfn, every loss", fontsize=10)
            ax.legend(fontsize=6, ncol=2, loc="lower center")
        else:
            rs = sorted((r for r in rows if r["loss"] == name), key=lambda r: r["n"])
            for key in ("lossfn", "numpy", "torch"):
                pts = [(r["n"], r["n"] * r["bytes_per_elem"] / r[key] / 1e9)
                       for r in rs if isinstance(r[key], float)]
                if pts:
                    c, m = styles[key]
                    ax.plot(*zip(*pts), color=c, marker=m, ms=4, label=labels[key])
            ax.set_title(name, fontsize=10)
        ax.axhline(bw, color="k", ls="--", lw=1, label=f"STREAM limit {bw:.1f} GB/s")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.tick_params(labelbottom=True, labelleft=True)
        ax.set_xlabel("N (elements)")
        ax.set_ylabel("GB/s (bytes moved / time)")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    handles, labels_ = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="lower center", ncol=len(handles), fontsize=9)
    fig.suptitle(f"value + gradient throughput, {dtype}, {nt} thread(s); "
                 f"{12 if dtype == 'float32' else 24} B/element moved "
                 f"(1 GB/s = {1e9 / (12 if dtype == 'float32' else 24):.3g} elements/s)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = make_parser(__doc__)
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated N (e.g. 1e3,2e7)")
    ap.add_argument("--losses", default=DEFAULT_LOSSES, help="comma-separated loss names")
    ap.add_argument("--dtypes", default="float32,float64")
    add_timing_args(ap)
    ap.add_argument("--ref-max-n", type=float, default=2e7,
                    help="skip the NumPy reference above this N")
    add_run_args(ap, "elementwise")
    args = ap.parse_args(argv)
    args.ref_max_n = int(args.ref_max_n)
    run_and_write(args, run, evaluate_goals, write_report, write_plot)


if __name__ == "__main__":
    main()
