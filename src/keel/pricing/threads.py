"""Numba threading settings for Keel's parallel kernels, applied when :mod:`keel.pricing` is imported.

Measured on the shared 2-core machine at load average 8-13 (bench/threading_layer.py; raw output
in bench/results/threading_layer-*.txt): OpenMP with passive waiting gave the fastest median for
1M-option ``greeks`` and ``implied_vol`` in 5 of 6 rounds at load 6-13 (e.g. 71 / 286 ms against
111 / 366 ms spin-waiting and 139 / 585 ms workqueue); the rounds are noisy at that load.  Spin-waiting threads
hold a core at the end of every parallel region, which on a busy machine takes it from the thread
still working; passive waiting gives it back.  OpenMP is also safe to launch from several Python
threads at once (a service), which the workqueue layer is not.

So, unless the user chose otherwise (``NUMBA_THREADING_LAYER``, ``NUMBA_THREADING_LAYER_PRIORITY``
or ``OMP_WAIT_POLICY`` in the environment, or ``numba.config.THREADING_LAYER`` set first): layer
priority OpenMP, then TBB, then workqueue (the first one available), and
``OMP_WAIT_POLICY=PASSIVE``.  ``import keel`` puts both into the environment (so kernels in any
layer get them, even without keel.pricing); this module re-applies the priority when numba was
imported before keel.
Results do not depend on the layer or the thread count: every parallel kernel splits its work
into fixed chunks and reduces them in a fixed order.
"""

from __future__ import annotations

import os
from typing import Any

import numba

__all__ = ["LAYER_PRIORITY", "configure_threading"]

LAYER_PRIORITY = ["omp", "tbb", "workqueue"]


def configure_threading() -> None:
    """Apply the defaults above (idempotent; a no-op for whatever the user already set)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read by libgomp when the first kernel launches
    config: Any = numba.config  # numba's config attributes are set at runtime (untyped)
    if "NUMBA_THREADING_LAYER" in os.environ or config.THREADING_LAYER != "default":
        return
    # `import keel` put the default into the environment (before numba read it, unless numba came first)
    config.THREADING_LAYER_PRIORITY = os.environ.get("NUMBA_THREADING_LAYER_PRIORITY", " ".join(LAYER_PRIORITY)).split()


configure_threading()
