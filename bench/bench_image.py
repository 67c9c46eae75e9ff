#!/usr/bin/env python3
"""Image-loss benchmark: lossfn ssim and ms_ssim value_and_grad vs pytorch-msssim forward + backward,
float32, at one thread and all, with the FMA throughput ssim reaches; total_variation against the
memory limit and kornia with autograd; perceptual over VGG-16-sized feature maps against the
memory limit (features) and the float FMA peak (Gram matrices), and torch with autograd; in one run.

Run from the repository root::

    python bench/bench_image.py            # full run (about two minutes on 2 cores)
    python bench/bench_image.py --quick    # smoke run: short timing, no report

Every case times

* lossfn   ``lf.ssim.value_and_grad(x, y, out=grad)`` (the gradient w.r.t. x), the same of ``lf.ms_ssim``, or
           ``lf.total_variation.value_and_grad(x, out=grad)``;
* peer     ``x.grad = None; (1 - pytorch_msssim.ssim(x, y, data_range=1.0)).backward()`` on a leaf tensor
           made once (its defaults: Gaussian 11 / 1.5, valid; ``ms_ssim`` likewise, five levels), or kornia's
           ``total_variation(x).sum(dim=1).mean()`` backward; ``torch.set_num_threads`` = lossfn's thread count.

SSIM is compute-bound: its FMA throughput is the model's double flops (about 32 win + 50 per
pixel: the five moments filtered horizontally and vertically, the map and its coefficients, three
adjoint filters) over the time, against the double FMA peak of independent FMA chains on the same
threads (``bench/stream.cpp``). total_variation is memory-bound: read x, write the gradient (8 B per
float32 pixel) over the best STREAM-style bandwidth on all threads (same run).
"""

from __future__ import annotations

import os
import sys

import numpy as np

import lossfn as lf

from _common import (add_copy_bandwidth, base_info, cpu_model, fma_peak_f64, fmt_t, measure, parse_threads, perf,
                     report_main, torch, wait_quiet, with_goals)

SSIM_CASES = [(8, 3, 256, 256), (1, 3, 1080, 1920)]
TV_CASES = [(8, 3, 512, 512), (1, 3, 1080, 1920)]
# VGG-16's relu1_2, relu2_2, relu3_3 and relu4_3 feature maps of 4 images of 128 x 128.
PERCEPTUAL_LAYERS = [(4, 64, 128, 128), (4, 128, 64, 64), (4, 256, 32, 32), (4, 512, 16, 16)]
WIN = 11


def ssim_flops(shape):
    """The kernel's double flops for value + grad w.r.t. x (the model in the docstring)."""
    N, C, H, W = shape
    return (32 * WIN + 50) * N * C * H * W


def images(shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random(shape, dtype=np.float32)
    y = np.clip(x + 0.1 * rng.standard_normal(shape, dtype=np.float32), 0, 1)
    return x, y


def peer(name):
    """The peer's forward + backward on a leaf tensor, or None when it is not installed."""
    if torch is None:
        return None
    try:
        if name in ("ssim", "ms_ssim"):
            import pytorch_msssim

            fn = getattr(pytorch_msssim, name)
            return lambda x, y: (1 - fn(x, y, data_range=1.0)).backward()
        import kornia

        return lambda x, y: kornia.losses.total_variation(x).sum(dim=1).mean().backward()  # lossfn's mean
    except ImportError:
        return None


def run(args):
    threads_list = parse_threads(args.threads)
    info = base_info(args, torch is not None and not args.no_torch)
    info["cpu"] = cpu_model()
    bw = add_copy_bandwidth(info, args.copy_mb, threads_list)
    info["fma_peak"] = {t: fma_peak_f64(t) for t in threads_list}
    print("double FMA peak: " + ", ".join(f"{t} threads {v / 1e9:.0f} GFLOP/s" for t, v in info["fma_peak"].items()),
          flush=True)
    t0 = perf()
    results = []
    for name, cases in (("ssim", SSIM_CASES), ("ms_ssim", SSIM_CASES), ("total_variation", TV_CASES)):
        loss = getattr(lf, name)
        step = None if args.no_torch else peer(name)
        for shape in cases:
            x, y = images(shape)
            args_ = (x, y) if name != "total_variation" else (x,)
            grad = np.empty_like(x)
            _, g64 = loss.value_and_grad(*(a.astype(np.float64) for a in args_))
            _, g32 = loss.value_and_grad(*args_)
            scale = float(np.abs(g64).max())
            acc = {"lossfn_err": float(np.abs(g32 - g64).max()) / scale}
            if step is not None:
                xt, yt = torch.from_numpy(x.copy()).requires_grad_(True), torch.from_numpy(y)

                def peer_step():
                    xt.grad = None
                    step(xt, yt)

                peer_step()
                acc["peer_err"] = float(np.abs(xt.grad.numpy() - g64).max()) / scale
            for threads in threads_list:
                lf.set_num_threads(threads)
                wait_quiet(args.quiet_wait)
                t_lf, _, _ = measure(lambda: loss.value_and_grad(*args_, out=grad), args.target_time)
                row = {"loss": name, "shape": list(shape), "threads": threads, "lossfn_s": t_lf, **acc}
                if name == "ssim":
                    row["gflops"] = ssim_flops(shape) / t_lf / 1e9
                    row["peak_share"] = ssim_flops(shape) / t_lf / info["fma_peak"][threads]
                elif name == "total_variation":
                    row["limit_s"] = 8 * x.size / bw
                if step is not None:
                    torch.set_num_threads(threads)
                    row["peer_s"], _, _ = measure(peer_step, args.target_time, slow=(args.slow_time, args.very_slow_time))
                results.append(row)
                extra = (f"{row['gflops']:.1f} GFLOP/s, {100 * row['peak_share']:.0f}% of FMA peak" if name == "ssim"
                         else f"{100 * row['limit_s'] / t_lf:.0f}% of the memory limit" if "limit_s" in row
                         else f"{1e9 * t_lf / x.size:.1f} ns / pixel")
                print(f"{name} {'x'.join(map(str, shape))} threads={threads}: lossfn {fmt_t(t_lf)} ({extra})"
                      + (f", peer {fmt_t(row['peer_s'])} ({row['peer_s'] / t_lf:.1f}x)" if "peer_s" in row else ""),
                      flush=True)
    results += run_perceptual(args, info, threads_list, bw)
    lf.set_num_threads(os.cpu_count() or 1)
    info["wall_s"] = perf() - t0
    return info, results


def perceptual_flops(shapes):
    """The style loss's flops per image and layer: two Gram matrices as symmetric rank-k updates
    (C^2 P each: half of a C x P x C product's 2 C^2 P) and the gradient's product D F (2 C^2 P)."""
    return sum(4 * s[1] * s[1] * s[2] * s[3] * s[0] for s in shapes)


def perceptual_peer(gram):
    """torch: sum of mse_loss over the layers (of per-image Gram matrices F F^T / (C H W) with
    gram), forward and backward, on leaf tensors."""
    if torch is None:
        return None

    def step(xs, ys):
        total = 0
        for x, y in zip(xs, ys):
            if gram:
                n, c = x.shape[:2]
                fx, fy = x.reshape(n, c, -1), y.reshape(n, c, -1)
                norm = 1.0 / fx.shape[1] / fx.shape[2]
                x, y = torch.bmm(fx, fx.transpose(1, 2)) * norm, torch.bmm(fy, fy.transpose(1, 2)) * norm
            total = total + torch.nn.functional.mse_loss(x, y)
        total.backward()
    return step


def run_perceptual(args, info, threads_list, bw):
    """perceptual over VGG-16's relu1_2 .. relu4_3 maps of 4 images of 128 x 128 (float32), the
    feature loss against the memory limit (read x and y, write the gradient: 12 B per feature) and
    the style loss's GEMM throughput against the float FMA peak (twice the double one)."""
    results = []
    shapes = PERCEPTUAL_LAYERS
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    ys = [x + 0.5 * rng.standard_normal(x.shape, dtype=np.float32) for x in xs]
    grads = [np.empty_like(x) for x in xs]
    elements = sum(x.size for x in xs)
    for gram in (False, True):
        step = None if args.no_torch else perceptual_peer(gram)
        _, g64 = lf.perceptual.value_and_grad([x.astype(np.float64) for x in xs], [y.astype(np.float64) for y in ys],
                                              gram=gram)
        _, g32 = lf.perceptual.value_and_grad(xs, ys, gram=gram)
        scale = max(float(np.abs(g).max()) for g in g64)
        acc = {"lossfn_err": max(float(np.abs(a - b).max()) for a, b in zip(g32, g64)) / scale}
        if step is not None:
            xts = [torch.from_numpy(x.copy()).requires_grad_(True) for x in xs]
            yts = [torch.from_numpy(y) for y in ys]

            def peer_step():
                for t in xts:
                    t.grad = None
                step(xts, yts)

            peer_step()
            acc["peer_err"] = max(float(np.abs(t.grad.numpy() - b).max()) for t, b in zip(xts, g64)) / scale
        name = "perceptual (gram)" if gram else "perceptual"
        for threads in threads_list:
            lf.set_num_threads(threads)
            wait_quiet(args.quiet_wait)
            t_lf, _, _ = measure(lambda: lf.perceptual.value_and_grad(xs, ys, gram=gram, out=grads), args.target_time)
            row = {"loss": name, "shape": [len(shapes), elements], "threads": threads, "lossfn_s": t_lf, **acc}
            if gram:
                row["gflops"] = perceptual_flops(shapes) / t_lf / 1e9
                row["peak_share"] = perceptual_flops(shapes) / t_lf / (2 * info["fma_peak"][threads])
            else:
                row["limit_s"] = 12 * elements / bw
            if step is not None:
                torch.set_num_threads(threads)
                row["peer_s"], _, _ = measure(peer_step, args.target_time, slow=(args.slow_time, args.very_slow_time))
            results.append(row)
            extra = (f"{row['gflops']:.1f} GFLOP/s, {100 * row['peak_share']:.0f}% of the float FMA peak" if gram
                     else f"{100 * row['limit_s'] / t_lf:.0f}% of the memory limit")
            print(f"{name} {len(shapes)} layers threads={threads}: lossfn {fmt_t(t_lf)} ({extra})"
                  + (f", peer {fmt_t(row['peer_s'])} ({row['peer_s'] / t_lf:.1f}x)" if "peer_s" in row else ""),
                  flush=True)
    return results


def goals(info, results):
    out = []
    for name in ("ssim", "ms_ssim"):
        rows = [r for r in results if r["loss"] == name and "peer_s" in r]
        if rows:
            worst = min(r["peer_s"] / r["lossfn_s"] for r in rows)
            out.append((f"{name} value+grad >= 4x pytorch-msssim forward+backward, 8x3x256x256 and 1x3x1080x1920, "
                        "one thread and all", "PASS" if worst >= 4 else "FAIL",
                        [f"{'x'.join(map(str, r['shape']))}, {r['threads']} threads: {r['peer_s'] / r['lossfn_s']:.1f}x"
                         for r in rows]))
    hd = [r for r in results if r["loss"] == "ssim" and r["shape"] == [1, 3, 1080, 1920]]
    out.append(("ssim FMA throughput at 1080p (reported)", "INFO",
                [f"{r['threads']} threads: {r['gflops']:.1f} GFLOP/s double, {100 * r['peak_share']:.0f}% of the "
                 f"FMA peak ({info['fma_peak'][r['threads']] / 1e9:.0f} GFLOP/s)" for r in hd]))
    all_threads = max(r["threads"] for r in results)
    tv = [r for r in results if r["loss"] == "total_variation" and r["threads"] == all_threads]
    worst = min(r["limit_s"] / r["lossfn_s"] for r in tv)
    out.append((f"total_variation value+grad at >= 70% of the memory limit, {all_threads} threads",
                "PASS" if worst >= 0.7 else "FAIL",
                [f"{'x'.join(map(str, r['shape']))}: {100 * r['limit_s'] / r['lossfn_s']:.0f}%" for r in tv]))
    for name in ("perceptual", "perceptual (gram)"):
        rows = [r for r in results if r["loss"] == name]
        lines = []
        for r in rows:
            through = (f"{r['gflops']:.1f} GFLOP/s, {100 * r['peak_share']:.0f}% of the float FMA peak" if "gflops" in r
                       else f"{100 * r['limit_s'] / r['lossfn_s']:.0f}% of the memory limit")
            peer_ratio = f", torch {r['peer_s'] / r['lossfn_s']:.1f}x slower" if "peer_s" in r else ""
            lines.append(f"{r['threads']} threads: {through}{peer_ratio}")
        out.append((f"{name} value+grad over VGG-16's relu1_2..relu4_3 maps of 4 images of 128 x 128 (reported)",
                    "INFO", lines))
    err = max(r["lossfn_err"] for r in results)
    out.append(("float32 gradient within 1e-5 (relative to its largest entry) of the float64 computation",
                "PASS" if err <= 1e-5 else "FAIL", [f"lossfn {err:.1e}"]
                + ([f"peer (float32) {max(r['peer_err'] for r in results if 'peer_err' in r):.1e}"]
                   if any("peer_err" in r for r in results) else [])))
    return out


def report(info, results, goal_rows):
    L = ["# Image losses: lossfn vs pytorch-msssim and kornia", "",
         "Generated by `bench/bench_image.py`. Command (run from the repository root):", "", "```", info["command"],
         "```", "",
         f"- date: {info['date']}, wall time {info['wall_s'] / 60:.1f} min",
         f"- build_info: `{info['build_info']}`",
         f"- CPU: {info['cpu']}, os.cpu_count() = {info['cpu_count']}; NumPy {info['numpy']}, "
         f"torch {info['torch'] or 'not installed'}",
         "- double FMA peak (independent FMA chains, same run): "
         + ", ".join(f"{t} threads {v / 1e9:.0f} GFLOP/s" for t, v in info["fma_peak"].items()),
         f"- memory limit (total_variation): 8 B per float32 pixel / {info['copy_bw'] / 1e9:.1f} GB/s (STREAM "
         f"{info['stream']['best']} on {info['stream']['threads']} threads, same run)",
         "- float32 images, NCHW, value and gradient w.r.t. x; peers forward and backward with autograd on the "
         "same threads; medians; the machine is shared and noisy: compare the ratios within a row.", "",
         "| loss | N x C x H x W | threads | lossfn | ns / pixel | throughput | peer | peer / lossfn |",
         "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        pixels = int(np.prod(r["shape"])) if not r["loss"].startswith("perceptual") else r["shape"][1]
        through = (f"{r['gflops']:.1f} GFLOP/s ({100 * r['peak_share']:.0f}% of the float FMA peak)"
                   if r["loss"] == "perceptual (gram)"
                   else f"{r['gflops']:.1f} GFLOP/s ({100 * r['peak_share']:.0f}% of FMA peak)" if r["loss"] == "ssim"
                   else f"{100 * r['limit_s'] / r['lossfn_s']:.0f}% of memory limit" if "limit_s" in r
                   else "(each pyramid level filtered once)")
        ratio = f"{r['peer_s'] / r['lossfn_s']:.1f}x" if "peer_s" in r else "n/a"
        shape = ("VGG-16 relu1_2..4_3, 4 x 128 x 128" if r["loss"].startswith("perceptual")
                 else "x".join(map(str, r["shape"])))
        L.append(f"| {r['loss']} | {shape} | {r['threads']} | {fmt_t(r['lossfn_s'])} | "
                 f"{1e9 * r['lossfn_s'] / pixels:.2f} | {through} | "
                 f"{fmt_t(r['peer_s']) if 'peer_s' in r else 'n/a'} | {ratio} |")
    return with_goals(L, goal_rows)


def main():
    report_main(__doc__, "image", run, goals, report)


if __name__ == "__main__":
    sys.exit(main())
