#!/usr/bin/env python3
"""Multi-class loss benchmark: lossfn fused value_and_grad vs PyTorch autograd vs NumPy reference.

Run from the repository root::

    python bench/bench_multiclass.py            # full run (1-2 minutes on 2 cores)
    python bench/bench_multiclass.py --quick    # smoke run: small shapes, short timing
    python bench/bench_multiclass.py --shapes 64x10,2048x32000 --losses nll --threads all

float32 throughout.  Every case (loss, shape, threads) times

* lossfn   ``lf.<loss>.value_and_grad(logits, target, axis=axis, out=grad)`` into a preallocated
           ``grad`` (the softmax utilities: ``value_and_grad(x, axis=axis, grad_output=g,
           out=grad)``),
* torch    ``x.grad = None; loss = F.cross_entropy(x, y); loss.backward()`` (or the loss's torch
           counterpart) on a leaf tensor made once with ``torch.from_numpy``, int64 labels,
           ``torch.set_num_threads`` = lossfn's thread count,
* NumPy    ``lf.reference.<loss>.value_and_grad(...)`` (float64 arithmetic, single-threaded:
           measured once per case; skipped above --ref-max-elems),

and compares lossfn with a memory limit: bytes moved / the best STREAM-style copy or triad
bandwidth on all threads (``bench/stream.cpp``), where
softmax_cross_entropy moves "two reads and one write of the logits" (3 x 4 B x N x C).
See bench/README.md for the options and the meaning of every column.
"""

from __future__ import annotations

import gc
import math
import sys

import numpy as np

import lossfn as lf

from _common import (F, add_copy_bandwidth, add_run_args, add_timing_args, agreement_lines, remeasure_limit,
                     base_info, contended_mark, contention_lines, finish_info, fmt_n, fmt_t, fmt_x,
                     goal_lines, make_parser, measure, measure_lossfn, measure_with_load,
                     parse_threads, perf, report_head, run_and_write, timing_line, torch)

MAIN_LOSS = "softmax_cross_entropy"
DEFAULT_SHAPES = "64x10,1024x1000,2048x32000,8192x50257,8x21x128x128:1"
DEFAULT_LOSSES = ("nll,softmax_focal,multi_margin,multilabel_soft_margin,categorical_crossentropy,"
                  "sparse_categorical_crossentropy,categorical_hinge,logsumexp,softmax,log_softmax")
DEFAULT_OTHER_SHAPE = "2048x1000"
LM_SHAPES = [(2048, 32000), (8192, 50257)]  # the language-model vocabularies of goal (1)
SMALL_SHAPE = (64, 10)                      # the per-call-cost case of goal (2)
# --quick: what it changes (an option given explicitly on the command line still wins).
QUICK = {"shapes": "64x10,1024x1000,8x21x32x32:1", "other_shape": "256x1000",
         "target_time": 0.05, "copy_mb": 64, "retries": 0, "name": "multiclass_quick"}
ITEMSIZE = 4  # float32


# ----------------------------------------------------------------------------------------------
# PyTorch counterparts: f(x, *targets, axis) -> loss (mean) or the function's output.
# ----------------------------------------------------------------------------------------------

def _rows(a, axis):
    """(rows, C): the class axis last, every other axis flattened into rows."""
    return a.movedim(axis, -1).reshape(-1, a.shape[axis])


def _clipped_probs(p, axis, eps=1e-7):  # Keras: normalise each row, then clip
    return torch.clamp(p / p.sum(axis, keepdim=True), eps, 1 - eps)


def _torch_focal(x, y, axis, gamma=2.0):
    # The common PyTorch FocalLoss: CE per row, p_t = exp(-CE), mean of (1 - p_t)^gamma CE.
    ce = F.cross_entropy(x.movedim(axis, 1), y, reduction="none")
    return ((1 - torch.exp(-ce)) ** gamma * ce).mean()


def _torch_categorical_hinge(x, t, axis):
    pos, neg = (t * x).sum(axis), torch.amax((1 - t) * x, dim=axis)
    return torch.clamp(neg - pos + 1, min=0).mean()


TORCH_ROWS = {}
if torch is not None:
    TORCH_ROWS = {
        "softmax_cross_entropy": (lambda x, y, axis: F.cross_entropy(x.movedim(axis, 1), y),
                                  "F.cross_entropy"),
        "nll": (lambda x, y, axis: F.nll_loss(x.movedim(axis, 1), y), "F.nll_loss"),
        "softmax_focal": (_torch_focal, "(1 - exp(-CE))^2 CE with F.cross_entropy"),
        "multi_margin": (lambda x, y, axis: F.multi_margin_loss(_rows(x, axis), y.reshape(-1)),
                         "F.multi_margin_loss"),
        "multilabel_soft_margin": (lambda x, t, axis: F.multilabel_soft_margin_loss(
            _rows(x, axis), _rows(t, axis)), "F.multilabel_soft_margin_loss"),
        "categorical_crossentropy": (lambda p, t, axis: (
            -(t * torch.log(_clipped_probs(p, axis))).sum(axis)).mean(),
            "Keras formula in torch ops"),
        "sparse_categorical_crossentropy": (lambda p, y, axis: F.nll_loss(
            torch.log(_clipped_probs(p, axis)).movedim(axis, 1), y),
            "Keras formula in torch ops"),
        "categorical_hinge": (_torch_categorical_hinge, "Keras formula in torch ops"),
        "logsumexp": (lambda x, axis: torch.logsumexp(x, axis), "torch.logsumexp"),
        "softmax": (lambda x, axis: torch.softmax(x, axis), "torch.softmax"),
        "log_softmax": (lambda x, axis: torch.log_softmax(x, axis), "torch.log_softmax"),
    }


# ----------------------------------------------------------------------------------------------
# Shapes, inputs, memory traffic
# ----------------------------------------------------------------------------------------------

def parse_shape(text):
    """'2048x32000' -> ((2048, 32000), -1); '8x21x128x128:1' -> ((8, 21, 128, 128), 1)."""
    dims, _, axis = text.strip().partition(":")
    shape = tuple(int(float(d)) for d in dims.lower().split("x"))
    axis = int(axis) if axis else -1
    if len(shape) < 2 or not -len(shape) <= axis < len(shape):
        raise ValueError(f"bad shape {text!r}: want e.g. 2048x32000 or 8x21x128x128:1")
    return shape, axis


def shape_label(shape, axis):
    s = "×".join(str(d) for d in shape)
    return s if axis in (-1, len(shape) - 1) else f"{s} (axis {axis})"


def _log_softmax_inplace(x, axis):
    x -= x.max(axis=axis, keepdims=True)
    x -= np.log(np.exp(x).sum(axis=axis, keepdims=True))
    return x


def make_inputs(loss, shape, axis, rng, dtype=np.float32):
    """(arrays for value_and_grad, grad_output or None), following loss.spec's domains: logits
    randn; probability rows softmax(randn) (or their logs); integer labels int64 uniform over the
    classes; one-hot and 0/1 targets of the logits' shape; a randn grad_output for the utilities
    (of the output's shape)."""
    spec, C = loss.spec, shape[axis]
    batch = tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
    x = rng.standard_normal(shape, dtype=dtype)
    if spec.pred in ("prob_rows", "logprob_rows"):
        x = _log_softmax_inplace(x, axis)
        if spec.pred == "prob_rows":
            np.exp(x, out=x)
    if isinstance(loss, lf.RowFunction):
        g_shape = batch if spec.name == "logsumexp" else shape
        return [x], rng.standard_normal(g_shape, dtype=dtype)
    kind = spec.targets[0]
    if kind == "labels":
        t = rng.integers(0, C, batch, dtype=np.int64)
    elif kind in ("onehot", "probs"):
        t = np.moveaxis(np.eye(C, dtype=dtype)[rng.integers(0, C, batch)], -1, axis)
        if kind == "probs":
            t = np.exp(_log_softmax_inplace(rng.standard_normal(shape, dtype=dtype), axis))
        t = np.ascontiguousarray(t)
    else:  # binary01
        t = (rng.random(shape) < 0.5).astype(dtype)
    return [x, t], None


# Where the gradient needs a finished row reduction (max / logsumexp / normaliser / max over the
# negatives) before any of it can be written, a streaming kernel reads the logits twice.
TWO_PASS = {"softmax_cross_entropy", "softmax_focal", "logsumexp", "softmax", "log_softmax",
            "categorical_crossentropy", "sparse_categorical_crossentropy", "categorical_hinge"}


def traffic(name, arrays, g):
    """(number of logits-sized float32 arrays moved, description) of the memory-limit model:
    the logits read twice (TWO_PASS) or once, every other logits-sized input read once, every
    logits-sized output (the gradient; the value of softmax/log_softmax) written once."""
    size = arrays[0].size
    parts = [("x", 2 if name in TWO_PASS else 1)]
    parts += [("t", 1) for a in arrays[1:] if a.size == size]
    if g is not None and g.size == size:
        parts.append(("g", 1))
    reads = sum(k for _, k in parts)
    writes = 2 if name in ("softmax", "log_softmax") else 1
    text = " + ".join(f"{k}R {a}" if k > 1 else f"R {a}" for a, k in parts)
    text += " + W value + W grad" if writes == 2 else " + W grad"
    return reads + writes, text


def call(obj, arrays, g, axis, out=None):
    """obj.value_and_grad for a row loss (arrays = logits, target) or a utility (grad_output)."""
    kw = {"axis": axis}
    if g is not None:
        kw["grad_output"] = g
    if out is not None:
        kw["out"] = out
    return obj.value_and_grad(*arrays, **kw)


def torch_runner(name, arrays, g, axis):
    """(step, result) where step() times x.grad = None; forward; backward, and result() gives
    the last (value, x.grad); None without a torch counterpart."""
    if name not in TORCH_ROWS:
        return None
    f = TORCH_ROWS[name][0]
    x = torch.from_numpy(arrays[0]).requires_grad_(True)
    others = [torch.from_numpy(a) for a in arrays[1:]]
    gt = None if g is None else torch.from_numpy(g)
    last = [None]

    def step():
        x.grad = None
        out = f(x, *others, axis)
        out.backward(gt)
        last[0] = out

    def result():
        return last[0].detach().numpy(), x.grad.numpy()
    return step, result


def _rel(a, b):
    """max |a - b| / max |b| (arrays or scalars)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


# ----------------------------------------------------------------------------------------------
# Agreement check: the three implementations compute the same value and gradient.
# ----------------------------------------------------------------------------------------------

def agreement(cases):
    """float64 on small versions of each case: (name, shape, axis) -> max relative differences
    from the NumPy reference."""
    rows = []
    for name, shape, axis in cases:
        loss, ref = getattr(lf, name), getattr(lf.reference, name)
        arrays, g = make_inputs(loss, shape, axis, np.random.default_rng(1), np.float64)
        rv, rg = call(ref, arrays, g, axis)
        lv, lg = call(loss, arrays, g, axis)
        row = {"loss": name, "shape": shape_label(shape, axis),
               "value_rel": _rel(lv, rv), "grad_rel": _rel(lg, rg)}
        runner = torch_runner(name, [a.copy() for a in arrays], g, axis)
        if runner is not None:
            runner[0]()
            tv, tg = runner[1]()
            row["torch_value_rel"], row["torch_grad_rel"] = _rel(tv, rv), _rel(tg, rg)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------
# Benchmark
# ----------------------------------------------------------------------------------------------

def run(args):
    shapes = [parse_shape(s) for s in args.shapes.split(",") if s.strip()]
    other_shape = parse_shape(args.other_shape)
    threads = parse_threads(args.threads)
    names = [s.strip() for s in args.losses.split(",") if s.strip()]
    for name in names:
        if not isinstance(getattr(lf, name, None), (lf.RowLoss, lf.RowFunction)):
            sys.exit(f"unknown row loss {name!r}")
    use_torch = torch is not None and not args.no_torch
    cases = [(MAIN_LOSS, s, a) for s, a in shapes] + [(n, *other_shape) for n in names]

    t_start = perf()
    info = base_info(args, use_torch, dtype="float32", threads=threads,
                     shapes=[shape_label(*s) for s in shapes], losses=names,
                     other_shape=shape_label(*other_shape), ref_max_elems=args.ref_max_elems,
                     quick=args.quick)
    bw = add_copy_bandwidth(info, args.copy_mb, threads)

    small = sorted({(MAIN_LOSS, SMALL_SHAPE, -1)} | {(n, SMALL_SHAPE, -1) for n in names}
                   | {(MAIN_LOSS, (2, 5, 4, 4), 1) for s, a in shapes if len(s) > 2})
    info["agreement"] = agreement(small)
    for row in info["agreement"]:
        if max(v for k, v in row.items() if k.endswith("_rel")) > 1e-6:
            print(f"WARNING: implementations disagree for {row['loss']}: {row}", flush=True)

    slow = (args.slow_time, args.very_slow_time)
    quiet_budget = [args.quiet_budget]  # seconds of waiting for quiet CPUs left for the run
    results = []
    for i, (name, shape, axis) in enumerate(cases):
        loss = getattr(lf, name)
        arrays, g = make_inputs(loss, shape, axis, np.random.default_rng(0))
        elems = arrays[0].size
        n_arrays, model = traffic(name, arrays, g)
        limit = n_arrays * ITEMSIZE * elems / bw
        recs = [{"loss": name, "shape": list(shape), "axis": axis,
                 "label": shape_label(shape, axis), "elems": elems, "threads": nt,
                 "traffic_arrays": n_arrays, "traffic": model, "limit": limit} for nt in threads]
        # lossfn, into a preallocated gradient (freed before torch runs, to bound memory).
        out = np.empty_like(arrays[0])
        for rec in recs:
            lf.set_num_threads(rec["threads"])
            (rec["lossfn"], rec["lossfn_reps"], rec["lossfn_inner"]), rec["other_load"], \
                rec["lossfn_attempt"] = measure_lossfn(lambda: call(loss, arrays, g, axis, out),
                                                       args, quiet_budget)
        value = call(loss, arrays, g, axis, out)[0]
        del out
        # The NumPy reference ignores the thread setting: one measurement per case.
        if elems > args.ref_max_elems:
            ref = ("skipped", 0)
        else:
            t, reps, _ = measure(lambda: call(getattr(lf.reference, name), arrays, g, axis),
                                 args.target_time, slow=slow)
            ref = (t, reps)
        runner = torch_runner(name, arrays, g, axis) if use_torch else None
        for rec in recs:
            rec["numpy"], rec["numpy_reps"] = ref
            rec["torch"], rec["torch_reps"] = None, 0
            if runner is not None:
                torch.set_num_threads(rec["threads"])
                (rec["torch"], rec["torch_reps"], _), rec["other_load_torch"] = \
                    measure_with_load(runner[0], args.target_time, slow=slow)
        if runner is not None and np.ndim(value) == 0:
            rec_value = float(runner[1]()[0])
            for rec in recs:
                rec["value"], rec["torch_value_rel"] = float(value), _rel(value, rec_value)
        del runner, arrays, g, value
        gc.collect()
        for rec in recs:
            results.append(rec)
            print(f"[{i + 1:2d}/{len(cases)} {perf() - t_start:5.0f}s] t={rec['threads']} "
                  f"{name:<31s} {rec['label']:<20s} lossfn {fmt_t(rec['lossfn']):>9s} | torch "
                  f"{fmt_t(rec['torch']):>9s} | numpy {fmt_t(rec['numpy']):>9s} | limit "
                  f"{fmt_t(limit):>9s} ({100 * limit / rec['lossfn']:5.1f}%) | vs torch "
                  f"{fmt_x(rec['torch'], rec['lossfn']):>5s} vs numpy "
                  f"{fmt_x(rec['numpy'], rec['lossfn']):>5s}"
                  + (f" | other procs {rec['other_load']:.2f} CPU"
                     if (rec["other_load"] or 0) >= 0.1 else ""), flush=True)
    remeasure_limit(info, results)
    finish_info(info, t_start)
    return info, results


# ----------------------------------------------------------------------------------------------
# Goals
# ----------------------------------------------------------------------------------------------

def evaluate_goals(info, results):
    """[(title, status, [lines])] from the measured data only."""
    all_t = max(info["threads"])
    ce = {(tuple(r["shape"]), r["threads"]): r for r in results
          if r["loss"] == MAIN_LOSS and r["axis"] in (-1, 1) and len(r["shape"]) == 2}

    def ok(flag):
        return "PASS" if flag else "FAIL"

    def noise(r):
        return " [contended]" if contended_mark(r) else ""

    goals = []
    # (1) LM vocabularies: >= 5x faster than torch, within 1.5x of the 2-reads-1-write limit.
    title = (f"(1) softmax_cross_entropy value+grad at 2048×32000 and 8192×50257, {all_t} "
             f"threads: >= 5x faster than torch and <= 1.5x the two-reads-one-write memory "
             f"limit (>= 67% of it)")
    lines, flags = [], []
    for shape in LM_SHAPES:
        for nt in info["threads"]:
            r = ce.get((shape, nt))
            counted = nt == all_t
            label = f"{shape[0]}×{shape[1]}, {nt} thread(s)"
            if r is None:
                if counted:
                    flags.append(False)
                    lines.append(f"NOT MEASURED: {label}")
                continue
            ratio = r["lossfn"] / r["limit"]
            speed = r["torch"] / r["lossfn"] if isinstance(r["torch"], float) else None
            row_ok = ratio <= 1.5 and speed is not None and speed >= 5
            head = f"{ok(row_ok)}" if counted else "for information (not counted)"
            if counted:
                flags.append(row_ok)
            lines.append(f"{head}: {label}: lossfn {fmt_t(r['lossfn'])} = {ratio:.2f}x the limit "
                         f"{fmt_t(r['limit'])} ({100 / ratio:.0f}%); "
                         + (f"{speed:.1f}x faster than torch ({fmt_t(r['torch'])})"
                            if speed is not None else "torch not measured") + noise(r))
    measured = [line for line in lines if not line.startswith("NOT MEASURED")]
    goals.append((title, ok(all(flags)) if measured else "NOT MEASURED", lines))

    # (2) 64x10: per-call cost >= 3x lower than torch's, for every thread count measured.
    title = (f"(2) softmax_cross_entropy value+grad at {SMALL_SHAPE[0]}×{SMALL_SHAPE[1]}: a "
             f"lossfn call costs >= 3x less than torch's (every thread setting measured)")
    lines, flags = [], []
    for nt in info["threads"]:
        r = ce.get((SMALL_SHAPE, nt))
        if r is None:
            continue
        speed = r["torch"] / r["lossfn"] if isinstance(r["torch"], float) else None
        flags.append(speed is not None and speed >= 3)
        lines.append(f"{ok(flags[-1])}: {nt} thread(s): lossfn {fmt_t(r['lossfn'])}, torch "
                     f"{fmt_t(r['torch'])}" + (f": {speed:.1f}x" if speed is not None else "")
                     + noise(r))
    goals.append((title, ok(all(flags)) if flags else "NOT MEASURED",
                  lines or [f"{SMALL_SHAPE[0]}×{SMALL_SHAPE[1]} not in this run"]))
    return goals


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------

def _table(rows, first_cols):
    """Markdown table lines; first_cols = [(header, fn(row) -> str)] before the common columns."""
    L = ["| " + " | ".join(h for h, _ in first_cols) + " | threads | lossfn | torch | NumPy ref | "
         "memory limit | % of limit | vs torch | vs NumPy |",
         "|" + "---|" * len(first_cols) + "---:|" * 8]
    for r in rows:
        L.append("| " + " | ".join(fn(r) for _, fn in first_cols)
                 + f" | {r['threads']} | {fmt_t(r['lossfn'])}{contended_mark(r)} | "
                 f"{fmt_t(r['torch'])} | {fmt_t(r['numpy'])} | {fmt_t(r['limit'])} | "
                 f"{100 * r['limit'] / r['lossfn']:.0f}% | {fmt_x(r['torch'], r['lossfn'])} | "
                 f"{fmt_x(r['numpy'], r['lossfn'])} |")
    return L + [""]


def observations(info, results):
    """Markdown lines computed from the data: where lossfn is slower than torch, and where it is
    far from the memory limit with all threads (the kernels to look at)."""
    all_t = max(info["threads"])
    name = lambda r: f"{r['loss']} {r['label']}"  # noqa: E731
    slower = [f"{name(r)} ({r['threads']} thr: {fmt_t(r['lossfn'])} vs {fmt_t(r['torch'])})"
              for r in results if isinstance(r["torch"], float) and r["torch"] < r["lossfn"]]
    far = [f"{name(r)} ({100 * r['limit'] / r['lossfn']:.0f}%)" for r in results
           if r["threads"] == all_t and r["elems"] >= 1e5 and r["limit"] / r["lossfn"] < 0.5]
    return ["## Observations (computed from the tables below)", "",
            "- lossfn slower than torch: " + ("; ".join(slower) or "none") + ".",
            f"- below 50% of the memory limit with {all_t} threads (cases of >= 1e5 elements; "
            f"below that the per-call cost dominates): " + ("; ".join(far) or "none")
            + " (contended cells, marked †, included).", ""]


def write_report(path, info, results, goals, png_name):
    L = report_head("lossfn multi-class benchmark: fused value_and_grad vs PyTorch vs NumPy "
                    "reference", "bench/bench_multiclass.py", info)
    L.append("- memory limit of a case = arrays moved x 4 B x (elements of the logits) / copy "
             "bandwidth. softmax_cross_entropy: **two reads and one write of the logits** "
             "(3 x 4 B x N x C): the gradient needs the row's logsumexp, so a streaming kernel "
             "reads the logits twice and writes the gradient once (labels and the scalar loss "
             "are negligible). Other losses: the *traffic* column of their table")
    L.append(timing_line(info) + " lossfn writes its gradient into a **preallocated** `out=` "
             "array (float32, C-contiguous, the logits' shape), so it allocates nothing; torch "
             "allocates `x.grad` every call (`x.grad = None` before each forward). The NumPy "
             "reference (float64 arithmetic, single-threaded) is measured once per case and "
             f"shown in every thread row; it is **skipped** above "
             f"{fmt_n(info['ref_max_elems'])} elements (at 2048×32000 one call takes several "
             "seconds).")
    L.extend(contention_lines(info, results))
    L.append("- **All figures are medians from this one run** on a shared 2-core machine "
             "(other engineers' builds and tests run alongside), not a best-of-many.")
    L.append("")
    L.extend(goal_lines(goals))
    L.extend(observations(info, results))
    L.extend(agreement_lines("float64, small shapes, max relative difference from the NumPy "
                             "reference", info["agreement"],
                             [("loss", "loss"), ("shape", "shape")]))
    rels = [r["torch_value_rel"] for r in results if "torch_value_rel" in r]
    L.append("## Results (float32)")
    L.append("")
    L.append("Times are the median per call. *% of limit* = memory-limit time / lossfn time "
             "(100% = as fast as copying the modelled bytes; a row of up to 50257 floats fits in "
             "L2, so the second read can come from cache and values above 100% are possible). "
             "*vs torch* / *vs NumPy* = their time / lossfn time (how many times faster lossfn "
             "is)." + (f" Sanity check: torch's loss value differs from lossfn's by at most "
                       f"{max(rels):.1e} (relative) over the loss cases (`torch_value_rel` in "
                       f"the JSON)." if rels else ""))
    L.append("")
    L.append("### softmax_cross_entropy, integer labels (torch: `F.cross_entropy(x, y); "
             "loss.backward()`, int64 labels)")
    L.append("")
    L.extend(_table([r for r in results if r["loss"] == MAIN_LOSS],
                    [("shape (N×C)", lambda r: r["label"])]))
    others = [r for r in results if r["loss"] != MAIN_LOSS]
    if others:
        L.append(f"### Other row losses and the softmax utilities at {info['other_shape']}")
        L.append("")
        L.append("Default hyper-parameters. The utilities are timed with a randn `grad_output` "
                 "(torch: `out.backward(g)`). Traffic: R = one read, W = one write of a "
                 "logits-sized float32 array (x logits, t target, g grad_output); the rule is "
                 "in bench/README.md. At this size an array is "
                 f"{4 * others[0]['elems'] / 2 ** 20:.0f} MB and may stay in the last-level "
                 "cache between calls, so more than 100% of the limit is common.")
        L.append("")
        L.extend(_table(others, [
            ("loss", lambda r: r["loss"]),
            ("torch counterpart", lambda r: TORCH_ROWS.get(r["loss"], ("", "n/a"))[1]),
            ("traffic", lambda r: f"{r['traffic_arrays']}: {r['traffic']}")]))
    L.append(f"![times]({png_name})")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def write_plot(path, info, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threads = info["threads"]
    fig, axes = plt.subplots(len(threads), 1, figsize=(13, 4.2 * len(threads) + 0.8),
                             squeeze=False)
    series = (("lossfn", "lossfn value_and_grad", "C0"), ("torch", "torch forward+backward", "C3"),
              ("limit", "memory limit", "0.6"))
    for ax, nt in zip(axes[:, 0], threads):
        rows = [r for r in results if r["threads"] == nt]
        labels = [r["label"].replace(" (axis", "\n(axis") if r["loss"] == MAIN_LOSS else r["loss"]
                  for r in rows]
        xs = np.arange(len(rows))
        width = 0.27
        for k, (key, label, color) in enumerate(series):
            vals = [r[key] if isinstance(r[key], float) else math.nan for r in rows]
            ax.bar(xs + (k - 1) * width, vals, width, label=label, color=color)
        n_ce = sum(r["loss"] == MAIN_LOSS for r in rows)
        if 0 < n_ce < len(rows):
            ax.axvline(n_ce - 0.5, color="k", lw=0.8)
            ax.text(n_ce - 0.4, 0.97, f"other losses at {info['other_shape']}",
                    transform=ax.get_xaxis_transform(), va="top", fontsize=8)
        ax.set_yscale("log")
        ax.set_xticks(xs)
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("seconds per call (median)")
        ax.set_title(f"float32 value + gradient, {nt} thread(s); left: softmax_cross_entropy",
                     fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    handles, labels_ = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="upper center", ncol=len(handles), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = make_parser(__doc__)
    ap.add_argument("--shapes", default=DEFAULT_SHAPES,
                    help="softmax_cross_entropy shapes, comma-separated: NxC, or dims joined by x "
                         "with ':axis' for the class axis (e.g. 8x21x128x128:1)")
    ap.add_argument("--losses", default=DEFAULT_LOSSES,
                    help="other row losses / utilities, timed at --other-shape ('' for none)")
    ap.add_argument("--other-shape", default=DEFAULT_OTHER_SHAPE, help="shape for --losses")
    add_timing_args(ap)
    ap.add_argument("--ref-max-elems", type=float, default=3e7,
                    help="skip the NumPy reference above this many logits elements")
    add_run_args(ap, "multiclass")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: " + ", ".join(f"--{k.replace('_', '-')} {v}"
                                                   for k, v in QUICK.items())
                    + " unless given")
    quick, _ = ap.parse_known_args(argv)
    if quick.quick:
        ap.set_defaults(**QUICK)
    args = ap.parse_args(argv)
    args.ref_max_elems = int(args.ref_max_elems)
    run_and_write(args, run, evaluate_goals, write_report, write_plot)


if __name__ == "__main__":
    main()
