"""Market-data adapters: read real files (exchange chains, klines, funding, pool logs) into domain values.

One loader per data format, all timestamps int ns UTC, one price-series type
(:class:`PriceSeries`).  Adapters sit at the edge: they do I/O and validation (a bad file
is one :class:`keel.errors.ValidationError` naming the file and line; bad rows of an option
chain are dropped and counted) and hand plain values to the pure core.
"""

from typing import TYPE_CHECKING

from keel.marketdata.binance import Klines, load_binance_klines, load_funding_rates
from keel.marketdata.deribit import (
    OptionChain,
    load_chain_file,
    load_deribit_atm_iv,
    load_deribit_chain,
    load_iv_greeks_csv,
)
from keel.marketdata.series import PriceSeries, format_utc
from keel.marketdata.uniswap import (
    RelativePrices,
    UniswapMinutes,
    UniswapSwaps,
    load_uniswap_minutes,
    load_uniswap_rel_price,
    load_uniswap_swaps,
)

__all__ = [
    "Catalog",
    "Klines",
    "OptionChain",
    "PriceSeries",
    "RelativePrices",
    "UniswapMinutes",
    "UniswapSwaps",
    "format_utc",
    "load_binance_klines",
    "load_chain_file",
    "load_deribit_atm_iv",
    "load_deribit_chain",
    "load_funding_rates",
    "load_iv_greeks_csv",
    "load_uniswap_minutes",
    "load_uniswap_rel_price",
    "load_uniswap_swaps",
]

if TYPE_CHECKING:
    from keel.marketdata.catalog import Catalog


def __getattr__(name: str) -> object:
    if name == "Catalog":  # the Parquet catalog (pyarrow, the v3 pool for rebuilds) loads only when asked for
        from keel.marketdata.catalog import Catalog

        return Catalog
    raise AttributeError(f"module 'keel.marketdata' has no attribute {name!r}")
