"""lossfn: loss functions for deep learning as fast, exact, vectorized C++ kernels.

Every loss is an object with the same methods::

    import lossfn as lf
    value = lf.huber(pred, target, delta=1.0)
    value, grad = lf.huber.value_and_grad(pred, target)
    hess = lf.huber.hess(pred, target)

``lf.losses()`` lists them; ``lf.<name>.reference`` is the NumPy reference of the same loss.
"""

from __future__ import annotations

import os as _os

from . import _core, _threads, reference
from ._losses import (CenterLoss, ElementwiseLoss, ImageLoss, LovaszHinge, PairLoss, PairwiseLoss, PerceptualLoss, RowFunction,
                      RowLoss, SegmentLoss, SequenceLoss, build_losses as _build_losses)

__version__ = _core.version()

_threads.check_isa_environment()
_threads._register_threadpoolctl_controller()

_LOSSES = _build_losses()
globals().update(_LOSSES)


def losses():
    """Every loss object, in catalogue order."""
    return list(_LOSSES.values())


MAX_THREADS = _core.MAX_THREADS


def set_num_threads(n: int) -> None:
    """Threads the kernels may use (large calls only; small ones stay on the calling thread).

    ``n`` is 1 to ``MAX_THREADS``. Until it is called, lossfn follows OpenMP's default
    (``OMP_NUM_THREADS``, clamped to ``MAX_THREADS``). ``threadpoolctl.threadpool_limits``
    limits lossfn too, for the duration of its block. A process started by ``fork`` runs
    single-threaded (OpenMP's thread pool does not survive ``fork``).
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n: expected an int, got {type(n).__name__}")
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"n: the number of threads must be in [1, {MAX_THREADS}], got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """Threads a large call uses now."""
    return _core.get_num_threads()


def set_isa(isa: str) -> None:
    """Force a kernel level ('baseline', 'avx2', 'avx512'); LOSSFN_ISA does the same at start-up."""
    if not isinstance(isa, str):
        raise TypeError(f"isa: expected a str ('baseline', 'avx2' or 'avx512'), got {type(isa).__name__}")
    _core.set_isa(isa)


def build_info() -> dict:
    """Version, compiler, chosen and available ISA levels, OpenMP, threads, CUDA."""
    return {
        "version": __version__,
        "compiler": _core.compiler(),
        "isa": _core.active_isa(),
        "isas": list(_core.available_isas()),
        "openmp": _core.has_openmp(),
        "threads": _core.get_num_threads(),
        "cuda": False,
    }


def get_include() -> str:
    """Directory of lossfn's C and C++ headers (as installed in the wheel)."""
    return _os.path.join(_os.path.dirname(__file__), "include")


def get_cmake_dir() -> str:
    """Directory of lossfnConfig.cmake: pass it as CMAKE_PREFIX_PATH or lossfn_DIR."""
    return _os.path.join(_os.path.dirname(__file__), "lib", "cmake", "lossfn")


__all__ = ["losses", "MAX_THREADS", "set_num_threads", "get_num_threads", "set_isa", "build_info", "reference",
           "get_include", "get_cmake_dir",
           "ElementwiseLoss", "RowLoss", "RowFunction", "SegmentLoss", "SequenceLoss", "LovaszHinge", "ImageLoss",
           "PerceptualLoss", "PairLoss", "CenterLoss", "PairwiseLoss", *_LOSSES]
