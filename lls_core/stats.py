"""The LLS survey's Table 4 statistics, each defined explicitly.

Table 4 of the LLS survey summarises a per-run figure over 1000 runs with ten
columns: Min, Q1, Q3, Mode, Med, Mean, Var, SD, Skew, Kurt. The survey does not say how
they are computed; here every column has one definition:

=======  ====================================================================================
Min      smallest value
Q1, Q3   25th and 75th percentiles, linear interpolation between order statistics
         (``numpy.percentile`` default, Hyndman & Fan type 7)
Mode     peak of a Gaussian kernel density estimate (``scipy.stats.gaussian_kde``, Scott's
         bandwidth) evaluated on 2048 equally spaced points from Min to Max; for a sample
         with no spread, its single value. (For continuous data the textbook "most frequent
         value" is meaningless: every value occurs once, and ``scipy.stats.mode`` then
         returns the smallest value, i.e. Min. :func:`naive_mode` gives that figure.)
Med      median
Mean     arithmetic mean
Var      sample variance with ``ddof=1``
SD       square root of Var
Skew     bias-corrected sample skewness G1 (``scipy.stats.skew(bias=False)``; pandas' ``skew``)
Kurt     bias-corrected sample *excess* kurtosis G2 (``scipy.stats.kurtosis(fisher=True,
         bias=False)``; pandas' ``kurt``): 0 for a normal distribution
=======  ====================================================================================

Non-finite values are rejected (the caller decides which runs enter, e.g. not the
diverged ones); an empty sample gives NaN everywhere, and Skew/Kurt are NaN for a
sample without spread (range below ``SPREAD_RTOL`` times its magnitude, where they
would be rounding noise) or with fewer than 3 / 4 values.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

__all__ = ["TABLE4_COLUMNS", "Summary", "describe", "kde_mode", "naive_mode"]

TABLE4_COLUMNS: tuple[str, ...] = ("Min", "Q1", "Q3", "Mode", "Med", "Mean", "Var", "SD", "Skew", "Kurt")
#: Skew and Kurt are NaN when max - min <= SPREAD_RTOL * max(1, max |value|) (no spread to describe).
SPREAD_RTOL = 1e-9


@dataclass(frozen=True)
class Summary:
    """The Table 4 columns for one sample of ``n`` per-run values (units of the values;
    Var in squared units; Skew and Kurt dimensionless)."""

    n: int
    Min: float
    Q1: float
    Q3: float
    Mode: float
    Med: float
    Mean: float
    Var: float
    SD: float
    Skew: float
    Kurt: float

    def as_dict(self) -> dict[str, float]:
        """``{"n": ..., "Min": ..., ...}`` in Table 4 order."""
        return asdict(self)


def _as_sample(values: object) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(a).all():
        bad = a[~np.isfinite(a)][:3].tolist()
        raise ValueError(f"sample contains non-finite values (e.g. {bad}); filter runs before describing them")
    return a


def naive_mode(values: object) -> float:
    """``scipy.stats.mode`` of the raw values: the most frequent value, ties -> the smallest.

    On continuous data every value is unique, so this returns the minimum.
    """
    a = _as_sample(values)
    if a.size == 0:
        return math.nan
    return float(sps.mode(a, keepdims=False).mode)


def kde_mode(values: object, grid: int = 2048) -> float:
    """Peak of a Gaussian KDE (Scott's bandwidth) on ``grid`` points from min to max."""
    a = _as_sample(values)
    if a.size == 0:
        return math.nan
    lo, hi = float(a.min()), float(a.max())
    if a.size == 1 or hi - lo <= 1e-12 * max(1.0, abs(lo), abs(hi)) or np.ptp(a) == 0:
        return lo
    xs = np.linspace(lo, hi, grid)
    try:
        dens = sps.gaussian_kde(a)(xs)
    except np.linalg.LinAlgError:  # (near-)singular spread
        return float(np.median(a))
    return float(xs[int(np.argmax(dens))])


def describe(values: object) -> Summary:
    """Table 4 columns of a 1-D sample (any array-like of finite floats)."""
    a = _as_sample(values)
    n = int(a.size)
    if n == 0:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    var = float(np.var(a, ddof=1)) if n > 1 else math.nan
    # Skew and Kurt divide by SD^3 and SD^4: for values equal up to rounding they are noise
    spread = n > 1 and np.ptp(a) > SPREAD_RTOL * max(1.0, float(np.abs(a).max()))
    skew = float(sps.skew(a, bias=False)) if spread and n >= 3 else math.nan
    kurt = float(sps.kurtosis(a, fisher=True, bias=False)) if spread and n >= 4 else math.nan
    return Summary(
        n=n,
        Min=float(a.min()),
        Q1=float(q1),
        Q3=float(q3),
        Mode=kde_mode(a),
        Med=float(med),
        Mean=float(a.mean()),
        Var=var,
        SD=math.sqrt(var) if n > 1 else math.nan,
        Skew=skew,
        Kurt=kurt,
    )
