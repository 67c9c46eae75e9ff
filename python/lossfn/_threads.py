"""lossfn's threads under threadpoolctl, and the start-up check of LOSSFN_ISA.

``threadpoolctl.threadpool_limits(k)`` limits every thread pool it knows. lossfn registers a
controller for its own pool (user_api ``"lossfn"``), so that a limit applies whether or not
``lf.set_num_threads`` was called, and is lifted when the ``with`` block ends. The controller
finds lossfn's extension module among the loaded libraries by the C functions it exports
(``lossfn_threadpool_*``).
"""

from __future__ import annotations

import importlib.util
import os
import warnings

from . import _core

ISA_NAMES = ("baseline", "avx2", "avx512")


def _register_threadpoolctl_controller() -> None:
    if importlib.util.find_spec("threadpoolctl") is None:
        return
    import threadpoolctl

    if not hasattr(threadpoolctl, "register"):  # threadpoolctl < 3.5
        return

    class LossfnController(threadpoolctl.LibController):
        user_api = "lossfn"
        internal_api = "lossfn"
        filename_prefixes = ("_core.",)
        check_symbols = ("lossfn_threadpool_get_num_threads",)

        def get_num_threads(self):
            get = getattr(self.dynlib, "lossfn_threadpool_get_num_threads", None)
            return get() if get is not None else None

        def set_num_threads(self, num_threads):
            # threadpoolctl restores a pool by setting the count it read on entry; a count
            # at least as large as lossfn's count without a limit lifts the limit instead of
            # fixing one, so nothing stays latched after the block.
            set_limit = getattr(self.dynlib, "lossfn_threadpool_set_limit", None)
            if set_limit is None:
                return
            set_limit(0)
            unlimited = self.dynlib.lossfn_threadpool_get_num_threads()
            set_limit(0 if num_threads >= unlimited else int(num_threads))

        def get_version(self):
            return _core.version() if hasattr(self.dynlib, "lossfn_threadpool_get_num_threads") else None

    threadpoolctl.register(LossfnController)


def check_isa_environment() -> None:
    """Warn when LOSSFN_ISA names no level, or one this CPU or build cannot run."""
    wanted = os.environ.get("LOSSFN_ISA")
    if wanted is None:
        return
    if wanted not in ISA_NAMES:
        warnings.warn(f"LOSSFN_ISA={wanted!r} is not a kernel level (expected one of {', '.join(ISA_NAMES)}); "
                      f"ignored: running {_core.active_isa()}", RuntimeWarning, stacklevel=3)
    elif wanted not in _core.available_isas():
        warnings.warn(f"LOSSFN_ISA={wanted!r} is not available on this CPU or in this build; "
                      f"running {_core.active_isa()}", RuntimeWarning, stacklevel=3)
