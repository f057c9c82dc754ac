"""Keel: the execution, risk and pricing layer between quantitative models and
decentralized derivatives markets.

Subpackages are layered; imports point down only (see ARCHITECTURE.md):

    domain  <-  pricing, marketdata, venues  <-  oracle, risk, execution
            <-  engine, sim, agents  <-  cli, service
"""

from keel.errors import KeelError

__all__ = ["KeelError", "__version__"]
__version__ = "0.1.0"
