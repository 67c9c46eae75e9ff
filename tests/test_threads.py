"""Threads: the count is bounded wherever it enters, fork()ed children work, threadpoolctl's
limits apply to lossfn and nothing latches, and ISA/thread arguments give clear errors."""

import multiprocessing
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lossfn as lf

BIG = 1 << 17  # above the parallel threshold (32768 elements)


def run_python(code, env=None, timeout=120):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


@pytest.mark.parametrize("n", [0, -1, lf.MAX_THREADS + 1, 10**6, 10**9, 2**31, 2**63, 10**30])
def test_thread_count_out_of_range_is_a_value_error(n, threads):
    before = lf.get_num_threads()
    with pytest.raises(ValueError, match=r"n: the number of threads must be in \[1, 1024\]"):
        lf.set_num_threads(n)
    assert lf.get_num_threads() == before


@pytest.mark.parametrize("n", [1.0, "2", None, True, np.float64(2)])
def test_thread_count_of_wrong_type_is_a_type_error(n, threads):
    with pytest.raises(TypeError, match="n: expected an int"):
        lf.set_num_threads(n)


def test_many_threads_up_to_the_bound_compute(threads):
    p = np.random.default_rng(0).normal(size=BIG)
    expected = lf.mse(p, 0 * p)
    lf.set_num_threads(lf.MAX_THREADS)
    assert lf.get_num_threads() == lf.MAX_THREADS
    assert lf.mse(p, 0 * p) == expected


def test_huge_omp_num_threads_is_clamped():
    out = run_python("""
        import numpy as np, lossfn as lf
        p = np.ones(1 << 17)
        print(lf.get_num_threads(), lf.mse(p, 0 * p))
    """, env={"OMP_NUM_THREADS": "100000"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(lf.MAX_THREADS), "1.0"]


def _large_call(seed):
    x = np.random.default_rng(seed).normal(size=BIG)
    return lf.get_num_threads(), lf.mse(x, 0 * x), float(np.mean(x * x))


def test_fork_children_work_after_a_parallel_call(threads):
    lf.set_num_threads(2)
    x = np.ones(BIG)
    lf.mse.value_and_grad(x, 0 * x)  # the parent's OpenMP pool now exists
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map_async(_large_call, range(4)).get(timeout=60)
    for child_threads, value, expected in results:
        assert child_threads == 1  # a fork()ed child runs single-threaded
        assert value == pytest.approx(expected, rel=1e-12)
    assert lf.get_num_threads() == 2  # the parent keeps its threads


def test_threadpoolctl_limits_lossfn_and_nothing_latches():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    out = run_python("""
        import numpy as np, lossfn as lf
        from threadpoolctl import threadpool_limits, threadpool_info
        x = np.ones(1 << 17)
        default = lf.get_num_threads()
        assert any(i["user_api"] == "lossfn" for i in threadpool_info()), threadpool_info()
        with threadpool_limits(1):
            inside = lf.get_num_threads()   # the first call of the process happens here
            lf.mse(x, 0 * x)
        after = lf.get_num_threads()
        lf.set_num_threads(3)
        with threadpool_limits(1):
            inside_explicit = lf.get_num_threads()
        with threadpool_limits(limits=2, user_api="lossfn"):
            inside_two = lf.get_num_threads()
        print(default, inside, after, inside_explicit, inside_two, lf.get_num_threads())
    """, env={"OMP_NUM_THREADS": "4"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["4", "1", "4", "1", "2", "3"]


def test_omp_default_is_read_per_call_not_latched():
    out = run_python("""
        import ctypes, lossfn as lf
        first = lf.get_num_threads()
        # The OpenMP runtime lossfn runs on: the system's libgomp, or the copy a repaired
        # (auditwheel) wheel bundles under a name of its own.
        with open("/proc/self/maps") as f:
            gomp = ctypes.CDLL(next(line.split()[-1] for line in f if "libgomp" in line))
        gomp.omp_set_num_threads(1)
        one = lf.get_num_threads()
        gomp.omp_set_num_threads(3)
        print(first, one, lf.get_num_threads())
    """, env={"OMP_NUM_THREADS": "2"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "1", "3"]


@pytest.mark.parametrize("isa", [None, 1, b"avx2", ["avx2"]])
def test_set_isa_with_a_non_string_is_a_type_error(isa):
    with pytest.raises(TypeError, match="isa: expected a str"):
        lf.set_isa(isa)


def test_set_isa_with_an_unknown_level_is_a_value_error():
    with pytest.raises(ValueError, match="isa: unknown level 'sse9'"):
        lf.set_isa("sse9")


@pytest.mark.parametrize("value,message", [("avx9000", "is not a kernel level"),
                                           ("AVX2", "is not a kernel level")])
def test_unknown_lossfn_isa_warns(value, message):
    out = run_python("import warnings; warnings.simplefilter('always'); import lossfn as lf; print(lf.build_info()['isa'])",
                     env={"LOSSFN_ISA": value})
    assert out.returncode == 0, out.stderr
    assert "RuntimeWarning" in out.stderr and message in out.stderr and f"LOSSFN_ISA={value!r}" in out.stderr
    assert out.stdout.strip() == lf.build_info()["isas"][-1]


def test_known_lossfn_isa_is_silent():
    out = run_python("import lossfn as lf; print(lf.build_info()['isa'])", env={"LOSSFN_ISA": "baseline"})
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert out.stdout.strip() == "baseline"
