"""Monte Carlo pricing: stochastic models, exotic payoffs, variance reduction, Greeks.

Models (:mod:`.models`): :class:`GBM`, :class:`Merton`, :class:`Heston`,
:class:`OrnsteinUhlenbeck`.  Payoffs (:mod:`.payoffs`): European, Asian (arithmetic and
geometric), barrier, floating lookback, digital, and :class:`PathPayoff` for any function
of the path array.  :func:`price` returns an :class:`MCResult` (price, standard error,
95 % interval, path count); :func:`greeks` gives delta/gamma/vega by common-random-number
bumps; :func:`sample_paths` returns whole simulated paths (for the simulator's synthetic
markets).  CPU kernels are numba-parallel (:mod:`.simulate`), a CuPy backend
(:mod:`.gpu`) is used automatically when a CUDA device is present.
"""

from keel.pricing.mc.closed_form import (
    european_price,
    geometric_asian_call,
    heston_european,
    merton_european,
    ou_european,
)
from keel.pricing.mc.engine import QMC_REPLICATIONS, MapBackend, MCGreeks, MCResult, greeks, price, sample_paths
from keel.pricing.mc.models import GBM, FellerConditionWarning, Heston, Merton, Model, OrnsteinUhlenbeck
from keel.pricing.mc.payoffs import (
    AsianArithmeticCall,
    AsianGeometricCall,
    BarrierOption,
    Digital,
    EuropeanCall,
    EuropeanPut,
    LookbackFloatingCall,
    PathPayoff,
    Payoff,
)

__all__ = [
    "GBM",
    "QMC_REPLICATIONS",
    "AsianArithmeticCall",
    "AsianGeometricCall",
    "BarrierOption",
    "Digital",
    "EuropeanCall",
    "EuropeanPut",
    "FellerConditionWarning",
    "Heston",
    "LookbackFloatingCall",
    "MCGreeks",
    "MCResult",
    "MapBackend",
    "Merton",
    "Model",
    "OrnsteinUhlenbeck",
    "PathPayoff",
    "Payoff",
    "european_price",
    "geometric_asian_call",
    "greeks",
    "heston_european",
    "merton_european",
    "ou_european",
    "price",
    "sample_paths",
]
