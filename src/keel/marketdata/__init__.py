"""Market-data adapters: read real files (exchange chains, klines, funding, pool logs) into domain values.

Adapters sit at the edge: they do I/O and validation, and hand plain values
(polars frames, float64 arrays, domain records) to the pure core.
"""

from keel.marketdata.deribit import OptionChain, load_chain_file, load_deribit_chain, load_iv_greeks_csv

__all__ = ["OptionChain", "load_chain_file", "load_deribit_chain", "load_iv_greeks_csv"]
