"""What the benchmark scripts share: timing, copy bandwidth, machine state, report pieces.

Used by bench/bench.py (elementwise losses) and bench/bench_multiclass.py (row losses); see
bench/README.md.  Importable as ``_common`` because Python puts a script's folder on sys.path.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time

import numpy as np

import lossfn as lf

try:
    import torch
    import torch.nn.functional as F
except Exception:  # pragma: no cover - torch is optional
    torch = None
    F = None

HERE = os.path.dirname(os.path.abspath(__file__))
perf = time.perf_counter
NOISY_CPU = 0.25  # other processes' CPU use (in CPUs) above which a cell is marked as contended


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------

def measure(fn, target_s, min_reps=5, max_reps=2000, slow=None):
    """Seconds per call of fn(): (time, samples, calls per sample).

    Normal calls: one warm-up call, one timed estimate, then enough samples to fill about
    target_s (at least min_reps); the median.  Calls shorter than ~1 ms are timed in batches
    (a sample is the batch's mean per call), so the timer's own cost does not count.

    slow = (slow_s, very_slow_s) caps the big NumPy/torch calls, which have nothing left to warm
    (their code ran at the smaller sizes, and they allocate fresh arrays on every call): the
    warm-up call is timed, and if it took >= slow_s it counts as one of 3 samples (median); if it
    took >= very_slow_s, one more call is made and the faster of the two is kept (noise on a
    shared machine only ever adds time).
    """
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = perf()
        fn()
        warm = perf() - t0
        if slow is not None and warm >= slow[0]:
            samples = [warm]
            want = 2 if warm >= slow[1] else 3
            while len(samples) < want:
                t0 = perf()
                fn()
                samples.append(perf() - t0)
            t = min(samples) if want == 2 else statistics.median(samples)
            return t, len(samples), 1
        t0 = perf()
        fn()
        est = perf() - t0
        inner = 1
        if est < 1e-3:
            inner = max(1, min(10000, int(1e-3 / max(est, 1e-8))))
        reps = int(round(target_s / (est * inner)))
        reps = max(min_reps, min(max_reps, reps))
        samples = []
        for _ in range(reps):
            t0 = perf()
            for _ in range(inner):
                fn()
            samples.append((perf() - t0) / inner)
        return statistics.median(samples), len(samples), inner
    finally:
        if gc_enabled:
            gc.enable()


def copy_bandwidth(nbytes, reps=11):
    """Bytes/s of np.copyto on a float32 buffer of nbytes: 2 * nbytes / median time."""
    n = nbytes // 4
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    dst.fill(0)  # fault the pages in
    t, _, _ = measure(lambda: np.copyto(dst, src), 0.0, min_reps=reps)
    return 2 * src.nbytes / t


def per_call_costs(n=1000, reps=7, number=20000):
    """Per-call cost of a small reduced loss, side by side: lf.mse(p, t) against what a user
    would write instead, np.mean((p - t)**2) and torch.nn.functional.mse_loss on tensors sharing
    the arrays (float64, N = n). Median over `reps` batches of `number` calls, in seconds."""
    import timeit
    rng = np.random.default_rng(0)
    p, t = rng.random(n), rng.random(n)
    cands = {"lossfn": lambda: lf.mse(p, t), "numpy": lambda: np.mean((p - t) ** 2)}
    if torch is not None:
        tp, tt = torch.from_numpy(p), torch.from_numpy(t)
        cands["torch"] = lambda: torch.nn.functional.mse_loss(tp, tt).item()
    out = {}
    for name, fn in cands.items():
        fn()
        out[name] = statistics.median(timeit.repeat(fn, number=number, repeat=reps)) / number
    return out


# Cells whose traffic is at least this many bytes come from memory; smaller ones may sit in the
# caches, where a memory-bound limit does not apply.
MEMORY_RESIDENT_BYTES = 64 << 20


# ----------------------------------------------------------------------------------------------
# Formatting
# ----------------------------------------------------------------------------------------------

def fmt_n(n):
    e = int(math.floor(math.log10(n))) if n > 0 else 0
    d = n / 10 ** e
    if e >= 3 and abs(d - round(d)) < 1e-9:
        return f"{int(round(d))}e{e}"
    return str(n)


def fmt_t(t):
    if t is None:
        return "n/a"
    if isinstance(t, str):
        return t
    if t < 1e-3:
        return f"{t * 1e6:.2f} µs" if t < 1e-5 else f"{t * 1e6:.1f} µs"
    if t < 1:
        return f"{t * 1e3:.2f} ms" if t < 1e-2 else f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def fmt_x(a, b):
    """Speed-up a/b ('how many times faster lossfn is')."""
    if not isinstance(a, float) or not isinstance(b, float) or b <= 0:
        return "n/a"
    r = a / b
    return f"{r:.1f}x" if r < 100 else f"{r:.0f}x"


def parse_threads(text):
    out = []
    for s in text.split(","):
        s = s.strip().lower()
        if not s:
            continue
        n = (os.cpu_count() or 1) if s == "all" else int(s)
        if n not in out:
            out.append(n)
    return out


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class OtherLoad:
    """Average number of CPUs used by *other* processes between start() and stop().

    From /proc/stat (all busy jiffies) minus /proc/self/stat (this process, all threads).
    None where /proc is unavailable.
    """

    @staticmethod
    def _read():
        try:
            with open("/proc/stat") as f:
                cpu = [int(v) for v in f.readline().split()[1:]]
            with open("/proc/self/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            own = int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, ValueError, IndexError):
            return None
        idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)
        return sum(cpu[:8]) - idle, own, perf()

    def start(self):
        self.t0 = self._read()

    def stop(self):
        t1 = self._read()
        if self.t0 is None or t1 is None or t1[2] <= self.t0[2]:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        other = ((t1[0] - self.t0[0]) - (t1[1] - self.t0[1])) / hz
        return max(0.0, other / (t1[2] - self.t0[2]))


def wait_quiet(max_s, window=0.5):
    """Sleep until other processes use < NOISY_CPU for one window, at most max_s seconds."""
    t_end = perf() + max_s
    while perf() < t_end:
        probe = OtherLoad()
        probe.start()
        time.sleep(window)
        other = probe.stop()
        if other is None or other < NOISY_CPU:
            return


def git_state():
    """'<commit> (clean|with local changes)' of the repository holding this script, or None."""
    import subprocess
    root = os.path.dirname(HERE)
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "cpp", "python",
                                "CMakeLists.txt", "pyproject.toml"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + (" (library sources modified)" if dirty.stdout.strip() else "")


def loadavg():
    try:
        return os.getloadavg()
    except OSError:
        return None


# ----------------------------------------------------------------------------------------------
# Command line, run information, contention-aware timing of lossfn
# ----------------------------------------------------------------------------------------------

def make_parser(doc):
    """An ArgumentParser described by the script docstring's first line, showing defaults."""
    import argparse
    return argparse.ArgumentParser(description=doc.split("\n")[0],
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def add_timing_args(ap):
    """--threads, --target-time, --slow-time, --very-slow-time."""
    ap.add_argument("--threads", default="1,all", help="comma-separated counts; 'all' = cpu_count")
    ap.add_argument("--target-time", type=float, default=0.2,
                    help="seconds of samples per measurement")
    ap.add_argument("--slow-time", type=float, default=0.1,
                    help="NumPy/torch calls slower than this: 3 calls, the warm-up counted, median")
    ap.add_argument("--very-slow-time", type=float, default=1.0,
                    help="NumPy/torch calls slower than this: 2 calls, the faster kept")


def add_run_args(ap, name):
    """--copy-mb, --retries, --quiet-wait, --quiet-budget, --no-torch, --out-dir, --name."""
    ap.add_argument("--copy-mb", type=int, default=256, help="buffer size of the copy benchmark")
    ap.add_argument("--retries", type=int, default=2,
                    help="re-measure a lossfn cell up to this many times when other processes "
                         "used >= %s CPU meanwhile" % NOISY_CPU)
    ap.add_argument("--quiet-wait", type=float, default=3.0,
                    help="before a retry, wait up to this many seconds for the CPUs to be quiet")
    ap.add_argument("--quiet-budget", type=float, default=60.0,
                    help="total seconds the whole run may spend waiting for quiet CPUs")
    ap.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--name", default=name, help="basename of the .md/.png/.json files")


def base_info(args, use_torch, **specific):
    """The run's description (command, versions, machine, settings) for the report and JSON;
    prints the first progress lines."""
    info = {
        "command": "python " + shlex.join(sys.argv),
        "cwd": os.getcwd(),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "build_info": lf.build_info(),
        "git": git_state(),
        "lossfn_path": os.path.dirname(lf.__file__),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "loadavg_start": loadavg(),
        **specific,
        "target_s": args.target_time, "slow_s": args.slow_time,
        "very_slow_s": args.very_slow_time, "retries": args.retries,
    }
    print(f"lossfn {info['build_info']}", flush=True)
    print(f"cpu: {info['cpu']} x{info['cpu_count']}, numpy {np.__version__}, "
          f"torch {info['torch'] if use_torch else 'not used'}", flush=True)
    return info


def finish_info(info, t_start):
    """After the last cell: lossfn back to all threads; load average at the end and wall time."""
    lf.set_num_threads(os.cpu_count() or 1)
    info["loadavg_end"] = loadavg()
    info["wall_s"] = perf() - t_start


def stream_library():
    """bench/stream.cpp built with the system compiler (-O3 -march=native -fopenmp) into
    bench/build/, rebuilt when the source is newer; loaded with ctypes."""
    import ctypes
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "stream.cpp")
    lib = os.path.join(here, "build", "libstream.so")
    if not os.path.exists(lib) or os.path.getmtime(lib) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(lib), exist_ok=True)
        cxx = os.environ.get("CXX", "g++")
        subprocess.run([cxx, "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", src, "-o", lib], check=True)
    so = ctypes.CDLL(lib)
    f32p, size_t, c_int = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
    so.stream_copy.argtypes = [f32p, f32p, size_t, c_int, c_int, c_int]
    so.stream_triad.argtypes = [f32p, f32p, f32p, size_t, c_int, c_int, c_int]
    so.stream_copy.restype = so.stream_triad.restype = ctypes.c_double
    so.fma_peak_f64.argtypes = [ctypes.c_long, c_int, c_int]
    so.fma_peak_f64.restype = so.fma_flops_per_round.restype = ctypes.c_double
    return so


def fma_peak_f64(threads, iters=20_000_000, reps=5):
    """Double-precision flops/s of independent FMA chains on vectors of the machine's register
    width (bench/stream.cpp)."""
    lib = stream_library()
    seconds = lib.fma_peak_f64(iters, threads, reps)
    return lib.fma_flops_per_round() * iters * threads / seconds


def gemm_library():
    """bench/gemm.cpp (Eigen's products with lossfn's fixed cache sizes) built like stream.cpp
    against the Eigen that lossfn's build uses (a system Eigen, else cmeel-eigen's), loaded with
    ctypes."""
    import ctypes
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "gemm.cpp")
    lib = os.path.join(here, "build", "libgemm.so")
    if not os.path.exists(lib) or os.path.getmtime(lib) < os.path.getmtime(src):
        include = ["/usr/include/eigen3"]
        try:
            import cmeel
            include.insert(0, os.path.join(os.path.dirname(cmeel.__path__[0]), "cmeel.prefix", "include", "eigen3"))
        except ImportError:
            pass
        os.makedirs(os.path.dirname(lib), exist_ok=True)
        cxx = os.environ.get("CXX", "g++")
        flags = [f"-I{p}" for p in include if os.path.isdir(p)]
        subprocess.run([cxx, "-O3", "-march=native", "-fopenmp", "-DEIGEN_DONT_PARALLELIZE", "-shared", "-fPIC",
                        *flags, src, "-o", lib], check=True)
    so = ctypes.CDLL(lib)
    so.three_gemms_f32.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_long, ctypes.c_int, ctypes.c_int]
    so.three_gemms_f32.restype = ctypes.c_double
    return so


def stream_bandwidths(nbytes, threads, reps=15):
    """STREAM-style bandwidths in bytes/s on `threads` threads over float32 arrays of nbytes
    each: copy (8 B per element counted) and triad (12 B), with ordinary and non-temporal
    stores, with and without software prefetch. The memory-bound limit is the best of the
    eight."""
    so = stream_library()
    n = nbytes // 4
    a, b, c = np.zeros(n, np.float32), np.ones(n, np.float32), np.full(n, 2.0, np.float32)
    out = {}
    for mode in range(4):  # bit 0: non-temporal stores; bit 1: software prefetch
        suffix = ("_nt" if mode & 1 else "") + ("_pf" if mode & 2 else "")
        so.stream_copy(a.ctypes.data, b.ctypes.data, n, mode, threads, 2)  # warm-up
        out[f"copy{suffix}"] = 8 * n / so.stream_copy(a.ctypes.data, b.ctypes.data, n, mode, threads, reps)
        so.stream_triad(a.ctypes.data, b.ctypes.data, c.ctypes.data, n, mode, threads, 2)
        out[f"triad{suffix}"] = 12 * n / so.stream_triad(a.ctypes.data, b.ctypes.data, c.ctypes.data,
                                                          n, mode, threads, reps)
    return out


def add_copy_bandwidth(info, copy_mb, threads):
    """The memory-bound limit's bandwidth, into info["copy_bw"] (bytes/s): the best of a
    STREAM-style copy and triad on all threads, with and without non-temporal stores and
    software prefetch (bench/stream.cpp), over arrays of copy_mb MB. Every cell is a fraction of it, so no cell
    can honestly exceed 100%. Also, for information, np.copyto on one thread."""
    all_threads = max(threads)
    variants = stream_bandwidths(copy_mb * 2 ** 20, all_threads)
    best = max(variants, key=variants.get)
    info["copy_bw"] = variants[best]
    info["copy_mb"] = copy_mb
    info["stream"] = {"threads": all_threads, "best": best, **variants}
    info["np_copyto_bw"] = copy_bandwidth(copy_mb * 2 ** 20)
    print(f"memory-bound limit: STREAM {best} on {all_threads} threads, {copy_mb} MB float32 arrays: "
          f"{info['copy_bw'] / 1e9:.2f} GB/s ("
          + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in variants.items())
          + f" GB/s; np.copyto on one thread {info['np_copyto_bw'] / 1e9:.1f} GB/s)", flush=True)
    return info["copy_bw"]


def remeasure_limit(info, results):
    """The STREAM bandwidth again, after the cells: this machine's memory bandwidth drifts
    between moments, and a limit measured in a slow moment would put fast cells above 100%.
    The limit is the best of both measurements; every cell's limit follows it."""
    st = info["stream"]
    again = stream_bandwidths(info["copy_mb"] * 2 ** 20, st["threads"])
    best = max(again, key=again.get)
    info["stream_end"] = {"best": best, **again}
    print(f"memory-bound limit re-measured after the cells: STREAM {best} {again[best] / 1e9:.2f} GB/s "
          f"(at the start {info['copy_bw'] / 1e9:.2f} GB/s)", flush=True)
    if again[best] > info["copy_bw"]:
        scale = info["copy_bw"] / again[best]
        for r in results:
            r["limit"] *= scale
            if "bandwidth" in r:
                r["bandwidth"] = again[best]
        info["copy_bw"] = again[best]
        info["stream"] = {"threads": st["threads"], **info["stream_end"]}
        info["stream_start"] = {k: v for k, v in st.items() if k != "threads"}


def check_limits(results):
    """No cell may be faster than the memory-bound limit: such a cell means the limit (or the
    traffic model of the cell) is wrong. Returns the offending cells' descriptions."""
    return [f"{r.get('loss')} n={r.get('n', r.get('elems'))} {r.get('dtype')} t={r['threads']}: "
            f"{100 * r['limit'] / r['lossfn']:.0f}%" for r in results
            if r["lossfn"] < r["limit"] and r["limit"] * r["bandwidth"] >= MEMORY_RESIDENT_BYTES]


def measure_with_load(fn, target_s, slow=None):
    """(measure(fn, target_s, slow=slow), CPUs used by other processes meanwhile)."""
    probe = OtherLoad()
    probe.start()
    m = measure(fn, target_s, slow=slow)
    return m, probe.stop()


def measure_lossfn(fn, args, quiet_budget):
    """measure(fn) re-measured (after waiting for a quiet moment) while other processes used the
    CPUs meanwhile, keeping the least contended attempt: ((time, samples, inner), other_load,
    attempt).  quiet_budget is a one-element list: seconds of waiting left for the whole run."""
    best = None
    for attempt in range(1 + args.retries):
        if attempt:
            if quiet_budget[0] <= 0:
                break
            t_wait = perf()
            wait_quiet(min(args.quiet_wait, quiet_budget[0]))
            quiet_budget[0] -= perf() - t_wait
        m, other = measure_with_load(fn, args.target_time)
        if best is None or (other or 0) < (best[1] or 0):
            best = (m, other, attempt)
        if other is None or other < NOISY_CPU:
            break
    return best


# ----------------------------------------------------------------------------------------------
# Report pieces and output files
# ----------------------------------------------------------------------------------------------

def report_head(title, script, info):
    """Markdown lines: title, the exact command, date, build, versions, load, copy bandwidth."""
    L = [f"# {title}", "", f"Generated by `{script}`. Command (run from the repository root):",
         "", "```", info["command"], "```", ""]
    L.append(f"- date: {info['date']}, total wall time {info['wall_s'] / 60:.1f} min")
    L.append(f"- build_info: `{info['build_info']}`")
    L.append(f"- source tree: git {info.get('git') or 'unknown'}; lossfn imported from "
             f"`{info.get('lossfn_path')}` (the installed build: rebuild with "
             f"`pip install --no-build-isolation .` after changing the sources)")
    L.append(f"- CPU: {info['cpu']}, os.cpu_count() = {info['cpu_count']}; Python "
             f"{info['python']}, NumPy {info['numpy']}, torch {info['torch'] or 'not installed'}")
    la0, la1 = info["loadavg_start"], info["loadavg_end"]
    if la0 and la1:
        L.append(f"- load average (1/5/15 min) at start {la0[0]:.2f}/{la0[1]:.2f}/{la0[2]:.2f}, "
                 f"at end {la1[0]:.2f}/{la1[1]:.2f}/{la1[2]:.2f} (the machine is shared: "
                 f"medians, not means)")
    st = info["stream"]
    L.append(f"- **memory-bound limit bandwidth**: the best of a STREAM-style copy and triad "
             f"(`bench/stream.cpp`) on all {st['threads']} threads over {info['copy_mb']} MB float32 "
             f"arrays, with ordinary and non-temporal stores (`_nt`), with and without software "
             f"prefetch (`_pf`), measured before and after the cells (the better kept): "
             f"**{info['copy_bw'] / 1e9:.2f} GB/s** ({st['best']}); "
             + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in st.items() if k not in ("threads", "best"))
             + " GB/s (STREAM counts: copy 8 B, triad 12 B per "
             f"element). For comparison, `np.copyto` on one thread: "
             f"{info['np_copyto_bw'] / 1e9:.2f} GB/s.")
    return L


def timing_line(info):
    """The report line saying how a cell is timed (the caller appends what is skipped)."""
    return (f"- timing: one warm-up call, then samples filling ~{info['target_s']} s (at least 5; "
            f"calls under 1 ms are batched, mean per call of the batch); median. NumPy and torch "
            f"calls slower than {info['slow_s']} s: 3 calls with the warm-up counted, median; "
            f"slower than {info['very_slow_s']} s: 2 calls, the faster kept.")


def contention_lines(info, results):
    """The report line counting the cells timed while other processes used the CPUs."""
    noisy = [r for r in results if (r.get("other_load") or 0) >= NOISY_CPU]
    if not any(r.get("other_load") is not None for r in results):
        return []
    return [f"- contention: while lossfn was timed, other processes used >= {NOISY_CPU} CPU "
            f"in {len(noisy)} of {len(results)} cells after up to {info['retries']} "
            f"re-measurements each (marked † in the tables; max "
            f"{max((r.get('other_load') or 0) for r in results):.2f} CPU)"]


def contended_mark(r):
    return " †" if (r.get("other_load") or 0) >= NOISY_CPU else ""


def goal_lines(goals):
    """The Goals section: [(title, status, [lines])] as markdown."""
    L = ["## Goals", ""]
    for title, status, lines in goals:
        L.append(f"**{title} — {status}**")
        L.append("")
        for line in lines:
            L.append(f"- {line}")
        L.append("")
    return L


def agreement_lines(title, rows, lead):
    """The agreement-check section: lead = [(header, key)] columns before the four differences
    (lossfn value / grad, torch value / grad: max relative difference from the reference)."""
    L = [f"## Agreement check ({title})", "",
         "| " + " | ".join(h for h, _ in lead) + " | lossfn value | lossfn grad | torch value | "
         "torch grad |", "|" + "---|" * len(lead) + "---:|" * 4]
    for row in rows:
        g = lambda k: f"{row[k]:.1e}" if k in row else "n/a"  # noqa: E731
        L.append("| " + "".join(f"{row[k]} | " for _, k in lead)
                 + f"{g('value_rel')} | {g('grad_rel')} | {g('torch_value_rel')} | "
                 f"{g('torch_grad_rel')} |")
    return L + [""]


def run_and_write(args, run, evaluate_goals, write_report, write_plot):
    """info, results = run(args); then <out-dir>/<name>.{png,md,json}; prints the goals and the
    paths."""
    info, results = run(args)
    goals = evaluate_goals(info, results)
    for r in results:
        r["bandwidth"] = info["copy_bw"]
    over = check_limits(results)
    goals.append((f"(limit) no cell of {MEMORY_RESIDENT_BYTES >> 20} MiB of traffic or more faster than "
                  f"the memory-bound limit", "PASS" if not over else "FAIL",
                  over or ["every memory-resident cell is at or below 100% of the STREAM limit"]))
    if "per_call" in info:
        pc = info["per_call"]
        lines = [f"lf.mse(p, t), float64, N = 1000: lossfn {pc['lossfn'] * 1e6:.2f} us, "
                 f"np.mean((p - t)**2) {pc['numpy'] * 1e6:.2f} us ({pc['numpy'] / pc['lossfn']:.1f}x)"
                 + (f", torch mse_loss {pc['torch'] * 1e6:.2f} us ({pc['torch'] / pc['lossfn']:.1f}x)"
                    if "torch" in pc else "")]
        ok = pc["numpy"] >= 3 * pc["lossfn"] and pc.get("torch", 3 * pc["lossfn"]) >= 3 * pc["lossfn"]
        goals.append(("(per call) lf.mse at N = 1000 >= 3x cheaper than the NumPy one-liner and than torch",
                      "PASS" if ok else "FAIL", lines))
    os.makedirs(args.out_dir, exist_ok=True)
    md = os.path.join(args.out_dir, args.name + ".md")
    png = os.path.join(args.out_dir, args.name + ".png")
    js = os.path.join(args.out_dir, args.name + ".json")
    try:
        write_plot(png, info, results)
    except Exception as e:  # the tables matter more than the figure
        print(f"WARNING: plot failed: {e!r}", flush=True)
    write_report(md, info, results, goals, os.path.basename(png))
    with open(js, "w") as f:
        json.dump({"info": info, "results": results}, f, indent=1, default=str)
    print()
    for title, status, lines in goals:
        print(f"{title} — {status}")
        for line in lines:
            print(f"  {line}")
    print(f"\nwrote {md}, {png}, {js} in {info['wall_s'] / 60:.1f} min")


def with_goals(lines, goal_rows):
    """A report's lines, then its Goals section (a title, PASS / FAIL / INFO and the figures of
    each goal), as the report's text."""
    lines = list(lines) + ["", "## Goals", ""]
    for title, status, figures in goal_rows:
        lines += [f"**{title} — {status}**", ""] + [f"- {line}" for line in figures] + [""]
    return "\n".join(lines) + "\n"


def report_main(doc, name, run, goals, report, copy_mb=True):
    """The command line of a benchmark that reports goals (bench_ctc, bench_segmentation,
    bench_image): parse the options, run(args) -> (info, results), print goals(info, results),
    and unless --quick write bench/results/<name>.md (report(info, results, goal_rows)) and
    <name>.json."""
    import json
    ap = make_parser(doc)
    ap.add_argument("--threads", default="1,all", help="comma-separated counts; 'all' = cpu_count")
    ap.add_argument("--target-time", type=float, default=0.5)
    ap.add_argument("--slow-time", type=float, default=0.3)
    ap.add_argument("--very-slow-time", type=float, default=2.0)
    ap.add_argument("--quiet-wait", type=float, default=2.0)
    if copy_mb:
        ap.add_argument("--copy-mb", type=int, default=256)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--quick", action="store_true", help="short timing, report not written")
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args()
    args.retries = 0
    if args.quick:
        args.target_time = 0.05
    info, results = run(args)
    goal_rows = goals(info, results)
    for title, status, lines in goal_rows:
        print(f"{status}: {title} ({'; '.join(lines)})")
    if args.quick:
        return
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, f"{name}.md"), "w") as f:
        f.write(report(info, results, goal_rows))
    with open(os.path.join(args.out_dir, f"{name}.json"), "w") as f:
        json.dump({"info": info, "results": results}, f, indent=1, default=str)
    print(f"wrote {os.path.join(args.out_dir, name + '.md')}")
