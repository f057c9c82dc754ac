"""Keel: the execution, risk and pricing layer between quantitative models and
decentralized derivatives markets.

Subpackages are layered; imports point down only (see ARCHITECTURE.md):

    domain  <-  pricing, marketdata, venues  <-  oracle, risk, execution
            <-  engine, sim, agents  <-  cli, service
"""

import os as _os

# numba threading defaults for every parallel kernel (keel.pricing.threads explains and re-applies
# them if numba was imported first); a user's own environment settings win.
_os.environ.setdefault("NUMBA_THREADING_LAYER_PRIORITY", "omp tbb workqueue")
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from keel.errors import KeelError

__all__ = ["KeelError", "__version__"]
__version__ = "0.1.0"
