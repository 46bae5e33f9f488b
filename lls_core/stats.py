"""Statistics: the LLS survey's Table 4 summaries (each defined explicitly) and two-sample tests.

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

``describe(values, conventions="survey")`` computes the columns as the LLS survey's
Table 4 was computed (numpy / scipy defaults; these conventions reproduce the printed
table, see :func:`lls_core.benchmark.survey_table4`): Var with ``ddof=0`` (population
variance), SD its root, Skew the biased g1 (``scipy.stats.skew``), Kurt the biased excess
kurtosis g2 (``scipy.stats.kurtosis``), and Mode ``scipy.stats.mode`` of the raw values
(:func:`naive_mode`: the minimum when all values differ). Min, quartiles, Med and Mean
are the same under both conventions.

Non-finite values are rejected (the caller decides which runs enter, e.g. not the
diverged ones); an empty sample gives NaN everywhere, and Skew/Kurt are NaN for a
sample without spread (range below ``SPREAD_RTOL`` times its magnitude, where they
would be rounding noise) or with fewer than 3 / 4 values.

Two-sample tests with effect sizes and confidence intervals, for the claims of Yu &
Morozov (2026), which the paper states from histograms and scatter plots and the
topography chapters turn into numbers with uncertainties:

* :func:`compare` — two independent samples (barrier heights, distances, Hessian
  eigenvalues): the Mann–Whitney U test, the common-language effect size
  ``CL = P(A > B) + 0.5 P(A = B) = U_A / (n_A n_B)`` (0.5 = no difference), its
  rank-biserial form ``r = 2 CL - 1``, the difference of medians, and percentile
  bootstrap intervals for both (scipy.stats.bootstrap, the two samples resampled
  independently).
* :func:`separation` — do two labelled groups separate along one coordinate (a
  principal component)? The area under the ROC curve of that coordinate as a score
  for the group label, oriented so that ``AUC >= 0.5``; a label-permutation p-value
  for that oriented statistic (valid because the coordinate was computed without
  the labels, e.g. by unsupervised kernel PCA), and a stratified bootstrap interval.
* :func:`rank_test` — the Mann–Whitney test and common-language effect size of
  :func:`compare` without the bootstrap (Hanley–McNeil interval), for samples of thousands.
* :func:`compare_proportions` — two success counts: Fisher's exact test (both one-sided
  p-values) and Wilson intervals for each proportion.
* :func:`bootstrap_difference` — a statistic (kurtosis, skewness, median, ...) of two
  independent samples, its difference and a percentile bootstrap interval.
* :func:`holm` — Holm's step-down adjustment when several claims are tested at once.
* :func:`bootstrap_units` — any statistic of several sets of solutions with a bootstrap that
  resamples *solutions* (whole units), not the pairs or points derived from them, so that
  statistics over overlapping pairs or shared centroids keep their dependence.
* :func:`paired_compare` — paired values (the same pair of runs measured twice): Wilcoxon
  signed-rank p-values and P(a > b) over the pairs with a bootstrap interval.
* :func:`decide` — the verdict of one claim from its interval and (adjusted) p-values:
  directional claims, and claims of *no* difference, which need an equivalence margin
  (two one-sided tests): a non-significant difference is "not resolved", never "supported".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Literal, Sequence, get_args

import numpy as np
from scipy import stats as sps

__all__ = [
    "TABLE4_COLUMNS",
    "Conventions",
    "Summary",
    "describe",
    "kde_mode",
    "naive_mode",
    "Comparison",
    "Separation",
    "compare",
    "separation",
    "holm",
    "RankTest",
    "rank_test",
    "ProportionComparison",
    "compare_proportions",
    "Difference",
    "bootstrap_difference",
    "Estimate",
    "bootstrap_units",
    "paired_compare",
    "Paired",
    "Expectation",
    "VERDICTS",
    "decide",
    "boot_p",
    "min_p_rank_test",
]

TABLE4_COLUMNS: tuple[str, ...] = ("Min", "Q1", "Q3", "Mode", "Med", "Mean", "Var", "SD", "Skew", "Kurt")
Conventions = Literal["book", "survey"]
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


def describe(values: object, conventions: Conventions = "book") -> Summary:
    """Table 4 columns of a 1-D sample (any array-like of finite floats).

    ``conventions="book"`` (default): the definitions of the module table (``ddof=1``,
    bias-corrected Skew and Kurt, KDE mode). ``conventions="survey"``: the LLS survey's
    (``ddof=0``, biased Skew and excess Kurt, ``scipy.stats.mode``).

    Example: ``describe([1.0, 2.0, 4.0], "survey").Var == np.var([1.0, 2.0, 4.0])``.
    """
    if conventions not in ("book", "survey"):
        raise ValueError(f"conventions={conventions!r}; valid: 'book', 'survey'")
    survey = conventions == "survey"
    a = _as_sample(values)
    n = int(a.size)
    if n == 0:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    ddof = 0 if survey else 1
    var = float(np.var(a, ddof=ddof)) if n > ddof else math.nan
    # Skew and Kurt divide by SD^3 and SD^4: for values equal up to rounding they are noise
    spread = n > 1 and np.ptp(a) > SPREAD_RTOL * max(1.0, float(np.abs(a).max()))
    skew = float(sps.skew(a, bias=survey)) if spread and n >= 3 else math.nan
    kurt = float(sps.kurtosis(a, fisher=True, bias=survey)) if spread and n >= 4 else math.nan
    return Summary(
        n=n,
        Min=float(a.min()),
        Q1=float(q1),
        Q3=float(q3),
        Mode=naive_mode(a) if survey else kde_mode(a),
        Med=float(med),
        Mean=float(a.mean()),
        Var=var,
        SD=math.sqrt(var) if n > ddof else math.nan,
        Skew=skew,
        Kurt=kurt,
    )


# --------------------------------------------------------------------------- two-sample tests
Alternative = Literal["two-sided", "greater", "less"]


@dataclass(frozen=True)
class Comparison:
    """Mann–Whitney comparison of sample ``a`` against sample ``b``.

    ``cl`` is P(a > b) (+ half the ties), in [0, 1]; ``cl_ci`` its bootstrap
    interval at ``level``; ``median_diff`` = median(a) - median(b) with ``median_diff_ci``.
    ``p`` is for ``alternative`` (``"greater"``: a tends to exceed b);
    ``p_greater`` and ``p_less`` are the two one-sided p-values, so that a
    significant effect against the expected direction is visible too.
    """

    n_a: int
    n_b: int
    u: float
    p: float
    alternative: str
    cl: float
    cl_ci: tuple[float, float]
    rank_biserial: float
    median_a: float
    median_b: float
    median_diff: float
    median_diff_ci: tuple[float, float]
    level: float
    p_greater: float = float("nan")
    p_less: float = float("nan")
    cl_boot: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    """The bootstrap draws of ``cl`` (for margin tests, :func:`boot_p`); empty when all values tie."""

    def supports(self, direction: Literal["greater", "less"], alpha: float = 0.05) -> bool:
        """True when the one-sided test in ``direction`` is significant at ``alpha`` *and* the CL
        interval excludes 0.5 on that side."""
        if direction == "greater":
            return self.p_greater < alpha and self.cl_ci[0] > 0.5 and self.cl > 0.5
        if direction == "less":
            return self.p_less < alpha and self.cl_ci[1] < 0.5 and self.cl < 0.5
        raise ValueError(f"direction={direction!r}; valid: 'greater', 'less'")


@dataclass(frozen=True)
class Separation:
    """How well one coordinate separates two groups: oriented ROC AUC in [0.5, 1].

    ``auc_ci``: stratified bootstrap interval at ``level``; ``p``: permutation
    p-value (``(1 + #{null >= observed}) / (1 + n_perm)``); ``sign``: +1 when group
    ``b`` has the larger scores, -1 otherwise.
    """

    n_a: int
    n_b: int
    auc: float
    auc_ci: tuple[float, float]
    p: float
    sign: int
    n_perm: int
    level: float
    boot: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    """The bootstrap draws of ``auc`` (same orientation), for equivalence tests (:func:`boot_p`)."""


def _finite_sample(x: object, name: str, min_n: int = 2) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    if a.size < min_n:
        raise ValueError(f"{name} has {a.size} values; need at least {min_n}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains non-finite values (NaN or Inf): {a[~np.isfinite(a)][:5]}")
    return a


def _check_level(level: float, n_boot: int) -> None:
    if not 0.5 < level < 1:
        raise ValueError(f"level={level!r}: must lie in (0.5, 1), e.g. 0.95")
    if not isinstance(n_boot, int) or n_boot < 100:
        raise ValueError(f"n_boot={n_boot!r}: must be an integer >= 100")


def _cl(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(a > b) + 0.5 P(a = b) along ``axis`` (vectorised over bootstrap resamples)."""
    a = np.moveaxis(a, axis, -1)[..., :, None]
    b = np.moveaxis(b, axis, -1)[..., None, :]
    return (np.greater(a, b).mean(axis=(-2, -1)) + 0.5 * np.equal(a, b).mean(axis=(-2, -1)))


def _median_diff(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(a, axis=axis) - np.median(b, axis=axis)


def _interval(res: sps._resampling.BootstrapResult) -> tuple[float, float]:
    lo, hi = res.confidence_interval
    return float(lo), float(hi)


def compare(
    a: object,
    b: object,
    *,
    alternative: Alternative = "two-sided",
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Mann–Whitney U test of ``a`` vs ``b`` with effect sizes and bootstrap intervals.

    ``a``, ``b``: 1-D samples (any array-like; at least 2 finite values each).
    Raises ``ValueError`` for too-small or non-finite samples, a bad ``alternative``,
    ``level`` or ``n_boot``.
    """
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative={alternative!r}; valid: 'two-sided', 'greater', 'less'")
    _check_level(level, n_boot)
    xa, xb = _finite_sample(a, "a"), _finite_sample(b, "b")
    test = sps.mannwhitneyu(xa, xb, alternative=alternative, method="auto")
    p_gt = float(sps.mannwhitneyu(xa, xb, alternative="greater", method="auto").pvalue)
    p_lt = float(sps.mannwhitneyu(xa, xb, alternative="less", method="auto").pvalue)
    rng = np.random.default_rng(seed)
    kw = dict(paired=False, vectorized=True, n_resamples=n_boot, confidence_level=level,
              method="percentile", random_state=rng)
    cl = float(_cl(xa, xb))
    cl_boot = np.empty(0)
    if np.ptp(np.concatenate([xa, xb])) == 0:  # all equal: the bootstrap is degenerate
        cl_ci = (cl, cl)
        md_ci = (0.0, 0.0)
    else:
        res_cl = sps.bootstrap((xa, xb), _cl, **kw)
        cl_ci = _interval(res_cl)
        cl_boot = np.asarray(res_cl.bootstrap_distribution, dtype=float).ravel()
        md_ci = _interval(sps.bootstrap((xa, xb), _median_diff, **kw))
    return Comparison(
        n_a=xa.size,
        n_b=xb.size,
        u=float(test.statistic),
        p=float(test.pvalue),
        alternative=alternative,
        cl=cl,
        cl_ci=cl_ci,
        rank_biserial=2 * cl - 1,
        median_a=float(np.median(xa)),
        median_b=float(np.median(xb)),
        median_diff=float(np.median(xa) - np.median(xb)),
        median_diff_ci=md_ci,
        level=level,
        p_greater=p_gt,
        p_less=p_lt,
        cl_boot=cl_boot,
    )


def separation(
    scores: object,
    labels: object,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    n_perm: int = 2000,
    seed: int = 0,
) -> Separation:
    """Oriented ROC AUC of ``scores`` for binary ``labels`` (0 = group a, 1 = group b).

    ``scores``: shape ``(n,)``; ``labels``: ``(n,)`` with values 0 and 1, at least two
    of each. The statistic is ``max(AUC, 1 - AUC)``; the permutation null applies
    the same orientation, so choosing the sign after looking does not bias ``p``.
    """
    s = _finite_sample(scores, "scores", min_n=4)
    y = np.asarray(labels).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels have shape {y.shape}; scores have shape {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1; got values {np.unique(y)[:10]}")
    n_b = int(y.sum())
    n_a = y.size - n_b
    if min(n_a, n_b) < 2:
        raise ValueError(f"need at least 2 samples per group; got {n_a} (label 0) and {n_b} (label 1)")
    _check_level(level, n_boot)
    if not isinstance(n_perm, int) or n_perm < 99:
        raise ValueError(f"n_perm={n_perm!r}: must be an integer >= 99")
    rng = np.random.default_rng(seed)
    sa, sb = s[y == 0], s[y == 1]
    raw = float(_cl(sb, sa))  # = ROC AUC of s for label 1 (ties count one half)
    sign = 1 if raw >= 0.5 else -1
    auc = max(raw, 1 - raw)
    # Under permutation the midranks stay put; only which of them belong to group b changes.
    ranks = sps.rankdata(s)
    perm_idx = rng.permuted(np.tile(np.arange(s.size), (n_perm, 1)), axis=1)[:, :n_b]
    null = (ranks[perm_idx].sum(axis=1) - n_b * (n_b + 1) / 2) / (n_a * n_b)
    null = np.maximum(null, 1 - null)
    p = (1 + np.count_nonzero(null >= auc - 1e-12)) / (1 + n_perm)
    boot_a = sa[rng.integers(0, n_a, (n_boot, n_a))]
    boot_b = sb[rng.integers(0, n_b, (n_boot, n_b))]
    boot = _cl(boot_b, boot_a) if sign > 0 else _cl(boot_a, boot_b)
    tail = (1 - level) / 2
    lo, hi = np.quantile(boot, [tail, 1 - tail])
    return Separation(n_a=n_a, n_b=n_b, auc=auc, auc_ci=(float(lo), float(hi)), p=float(p),
                      sign=sign, n_perm=n_perm, level=level, boot=np.asarray(boot, dtype=float))


def holm(pvalues: object, *, missing: Literal["raise", "skip"] = "raise") -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (same order as the input), capped at 1.

    ``missing="skip"``: NaN entries are claims that could not be tested; they stay NaN
    and the family is the tested ones (``"raise"``, the default, refuses NaN).

    >>> holm([0.01, float("nan"), 0.04], missing="skip").round(3).tolist()
    [0.02, nan, 0.04]
    """
    if missing not in ("raise", "skip"):
        raise ValueError(f"missing={missing!r}; valid: 'raise', 'skip'")
    if missing == "skip":
        raw = np.asarray(pvalues, dtype=float).ravel()
        out = np.full(raw.shape, np.nan)
        tested = ~np.isnan(raw)
        if tested.any():
            out[tested] = holm(raw[tested])
        return out
    p = _finite_sample(pvalues, "pvalues", min_n=1)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must lie in [0, 1]; got {p[(p < 0) | (p > 1)][:5]}")
    order = np.argsort(p)
    m = p.size
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


# --------------------------------------------------------------------------- proportions, bootstrap
@dataclass(frozen=True)
class ProportionComparison:
    """Success counts ``k_a / n_a`` against ``k_b / n_b``.

    ``p_a``, ``p_b``: the proportions, with Wilson intervals ``ci_a``, ``ci_b`` at ``level``;
    ``p_greater`` / ``p_less``: one-sided Fisher exact p-values for "a succeeds more / less
    often than b"; ``odds_ratio``: the sample odds ratio (``inf`` or ``nan`` at the edges).
    """

    k_a: int
    n_a: int
    k_b: int
    n_b: int
    p_a: float
    p_b: float
    ci_a: tuple[float, float]
    ci_b: tuple[float, float]
    odds_ratio: float
    p_greater: float
    p_less: float
    level: float

    def supports(self, direction: Literal["greater", "less"], alpha: float = 0.05) -> bool:
        """True when the one-sided Fisher test in ``direction`` is significant at ``alpha``."""
        if direction == "greater":
            return self.p_greater < alpha and self.p_a > self.p_b
        if direction == "less":
            return self.p_less < alpha and self.p_a < self.p_b
        raise ValueError(f"direction={direction!r}; valid: 'greater', 'less'")


def _count(k: float, n: float, name: str) -> tuple[int, int]:
    if isinstance(k, bool) or isinstance(n, bool) or not all(float(v).is_integer() for v in (k, n)):
        raise ValueError(f"{name}: counts must be integers; got k={k!r}, n={n!r}")
    ki, ni = int(k), int(n)
    if ni < 1 or not 0 <= ki <= ni:
        raise ValueError(f"{name}: need 0 <= k <= n and n >= 1; got k={ki}, n={ni}")
    return ki, ni


def compare_proportions(k_a: int, n_a: int, k_b: int, n_b: int, *, level: float = 0.95) -> ProportionComparison:
    """Fisher's exact test of two proportions with Wilson intervals.

    Example: ``compare_proportions(40, 50, 10, 50).supports("greater")`` is True.
    """
    k_a, n_a = _count(k_a, n_a, "a")
    k_b, n_b = _count(k_b, n_b, "b")
    if not 0.5 < level < 1:
        raise ValueError(f"level={level!r}: must lie in (0.5, 1), e.g. 0.95")
    table = [[k_a, n_a - k_a], [k_b, n_b - k_b]]
    odds, p_gt = sps.fisher_exact(table, alternative="greater")
    _, p_lt = sps.fisher_exact(table, alternative="less")

    def wilson(k: int, n: int) -> tuple[float, float]:
        ci = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        return float(ci.low), float(ci.high)

    return ProportionComparison(k_a, n_a, k_b, n_b, k_a / n_a, k_b / n_b, wilson(k_a, n_a), wilson(k_b, n_b),
                                float(odds), float(p_gt), float(p_lt), level)


_STATISTICS = {
    "kurtosis": lambda x, axis=-1: sps.kurtosis(x, axis=axis, fisher=True, bias=False),
    "skew": lambda x, axis=-1: sps.skew(x, axis=axis, bias=False),
    "median": lambda x, axis=-1: np.median(x, axis=axis),
    "mean": lambda x, axis=-1: np.mean(x, axis=axis),
    "sd": lambda x, axis=-1: np.std(x, axis=axis, ddof=1),
}


@dataclass(frozen=True)
class Difference:
    """``statistic(a) - statistic(b)`` with a percentile bootstrap interval at ``level``
    (the two samples resampled independently). NaN interval when either sample has no spread."""

    statistic: str
    n_a: int
    n_b: int
    value_a: float
    value_b: float
    diff: float
    diff_ci: tuple[float, float]
    level: float

    def supports(self, direction: Literal["greater", "less"]) -> bool:
        """True when the interval lies entirely above (``"greater"``) or below (``"less"``) 0."""
        lo, hi = self.diff_ci
        if direction == "greater":
            return bool(lo > 0)
        if direction == "less":
            return bool(hi < 0)
        raise ValueError(f"direction={direction!r}; valid: 'greater', 'less'")


def bootstrap_difference(
    a: object,
    b: object,
    statistic: Literal["kurtosis", "skew", "median", "mean", "sd"] = "kurtosis",
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Difference:
    """``statistic(a) - statistic(b)`` with a bootstrap interval.

    Kurtosis is the bias-corrected excess kurtosis G2, skew the bias-corrected G1 (as in
    :func:`describe`). ``a``, ``b``: 1-D finite samples with at least 4 values each.
    """
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic={statistic!r}; valid: {', '.join(_STATISTICS)}")
    _check_level(level, n_boot)
    xa, xb = _finite_sample(a, "a", min_n=4), _finite_sample(b, "b", min_n=4)
    fn = _STATISTICS[statistic]
    va, vb = float(fn(xa)), float(fn(xb))
    flat = lambda x: np.ptp(x) <= SPREAD_RTOL * max(1.0, float(np.abs(x).max()))  # noqa: E731
    if statistic in ("kurtosis", "skew") and (flat(xa) or flat(xb)):
        nan = math.nan
        return Difference(statistic, xa.size, xb.size, nan if flat(xa) else va, nan if flat(xb) else vb, nan,
                          (nan, nan), level)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // max(xa.size, xb.size))  # resamples per block: bounded memory
    parts = []
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        ba = xa[rng.integers(0, xa.size, (m, xa.size))]
        bb = xb[rng.integers(0, xb.size, (m, xb.size))]
        with np.errstate(all="ignore"):
            parts.append(fn(ba, axis=1) - fn(bb, axis=1))
    boot = np.concatenate(parts)
    boot = boot[np.isfinite(boot)]
    tail = (1 - level) / 2
    lo, hi = (np.quantile(boot, [tail, 1 - tail]) if boot.size else (math.nan, math.nan))
    return Difference(statistic, xa.size, xb.size, va, vb, va - vb, (float(lo), float(hi)), level)


@dataclass(frozen=True)
class RankTest:
    """Mann–Whitney comparison of ``a`` and ``b`` without resampling.

    ``cl`` = P(a > b) + 0.5 P(a = b); ``cl_ci``: the Hanley–McNeil (1982) normal interval
    at ``level``, clipped to [0, 1]; ``p_greater`` / ``p_less``: one-sided p-values (a tends
    to exceed / fall below b); medians of both samples.
    """

    n_a: int
    n_b: int
    cl: float
    cl_ci: tuple[float, float]
    p_greater: float
    p_less: float
    median_a: float
    median_b: float
    level: float


def rank_test(a: object, b: object, *, level: float = 0.95) -> RankTest:
    """Mann–Whitney U test of ``a`` vs ``b`` with the common-language effect size.

    Like :func:`compare` but O(n log n): for large samples (thousands of runs), where a
    bootstrap of the pairwise statistic would be slow. Example:
    ``rank_test([3, 4, 5, 6], [0, 1, 2, 3]).cl`` is 0.96875.
    """
    if not 0.5 < level < 1:
        raise ValueError(f"level={level!r}: must lie in (0.5, 1), e.g. 0.95")
    xa, xb = _finite_sample(a, "a"), _finite_sample(b, "b")
    na, nb = xa.size, xb.size
    p_gt = float(sps.mannwhitneyu(xa, xb, alternative="greater", method="asymptotic").pvalue)
    res = sps.mannwhitneyu(xa, xb, alternative="less", method="asymptotic")
    cl = float(sps.mannwhitneyu(xa, xb, alternative="two-sided").statistic) / (na * nb)
    q1, q2 = cl / (2 - cl), 2 * cl * cl / (1 + cl)
    se = math.sqrt(max(cl * (1 - cl) + (na - 1) * (q1 - cl * cl) + (nb - 1) * (q2 - cl * cl), 0.0) / (na * nb))
    z = float(sps.norm.ppf(0.5 + level / 2))
    return RankTest(na, nb, cl, (max(0.0, cl - z * se), min(1.0, cl + z * se)), p_gt, float(res.pvalue),
                    float(np.median(xa)), float(np.median(xb)), level)


# --------------------------------------------------------------------------- claims: solution bootstrap, verdicts
def boot_p(boot: object, threshold: float, side: Literal["above", "below"]) -> float:
    """Percentile-bootstrap p-value that the statistic lies ``side`` ``threshold``.

    ``side="above"``: evidence for "statistic > threshold", ``(1 + #{draws <= threshold}) / (1 + B)``;
    ``"below"`` the mirror image. It rejects at ``alpha`` exactly when the one-sided
    ``1 - alpha`` percentile interval excludes ``threshold``. NaN for no draws.
    Example: ``boot_p(np.arange(1.0, 100.0), 0.0, "above") == 0.01``.
    """
    b = np.asarray(boot, dtype=float).ravel()
    b = b[np.isfinite(b)]
    if side not in ("above", "below"):
        raise ValueError(f"side={side!r}; valid: 'above', 'below'")
    if b.size == 0:
        return math.nan
    bad = np.count_nonzero(b <= threshold) if side == "above" else np.count_nonzero(b >= threshold)
    return float((1 + bad) / (1 + b.size))


@dataclass(frozen=True, eq=False)
class Estimate:
    """One statistic of sets of solutions with a bootstrap over the solutions.

    ``value``: the statistic on the data; ``ci``: percentile interval at ``level``;
    ``null``: the value of "no effect"; ``p_greater`` / ``p_less``: bootstrap p-values for
    ``value > null`` / ``value < null`` (:func:`boot_p`); ``sizes``: solutions per unit group;
    ``boot``: the ``(B,)`` draws (non-finite draws, e.g. a ratio over a zero, dropped).
    """

    name: str
    value: float
    ci: tuple[float, float]
    null: float
    p_greater: float
    p_less: float
    sizes: tuple[int, ...]
    level: float
    boot: np.ndarray = field(repr=False)


def bootstrap_units(
    statistic: Callable[..., float],
    sizes: Sequence[int],
    *,
    name: str = "statistic",
    null: float = 0.0,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    plugin: Callable[..., float] | None = None,
) -> Estimate:
    """``statistic(*counts)`` with a bootstrap that resamples whole solutions.

    ``sizes``: the number of solutions ``K_g`` of each independent group (a set of runs;
    two weight sets taken from the same runs, e.g. their training and their early-stopping
    weights, form one group). ``statistic`` receives one ``(K_g,)`` array of multiplicities
    per group — all ones for the data, multinomial counts (summing to ``K_g``) for a
    resample — and returns a float. A statistic over pairs of solutions weighs pair
    ``(i, j)`` by ``counts[i] * counts[j]``; one over vectors weighs vector ``i`` by
    ``counts[i]``: the pairs' dependence through shared solutions is then kept in every
    resample. Example (mean of group 0 minus mean of group 1)::

        x, y = np.array([3.0, 4, 5]), np.array([0.0, 1, 2])
        est = bootstrap_units(lambda a, b: a @ x / a.sum() - b @ y / b.sum(), [3, 3])
        est.value == 3.0

    ``plugin``: for a bias-corrected ``statistic`` (e.g. a squared distance minus its sampling
    noise), the plug-in version whose value on the data is the truth of the bootstrap world.
    The interval is then the basic (pivotal) one, ``value - (draw - plugin(data))``, and
    ``boot`` holds those reflected draws: a percentile interval of a bias-corrected statistic
    would re-add the bias it removed.
    """
    _check_level(level, n_boot)
    ks = [int(k) for k in sizes]
    if not ks or any(k < 2 for k in ks):
        raise ValueError(f"sizes={list(sizes)!r}: every group needs at least 2 solutions")
    value = float(statistic(*[np.ones(k) for k in ks]))
    if not math.isfinite(value):
        raise ValueError(f"{name} is not finite on the data ({value}); it cannot be bootstrapped")
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for r in range(n_boot):
        draws[r] = statistic(*[rng.multinomial(k, np.full(k, 1.0 / k)).astype(float) for k in ks])
    draws = draws[np.isfinite(draws)]
    if plugin is not None:
        truth = float(plugin(*[np.ones(k) for k in ks]))
        draws = value - (draws - truth)
    tail = (1 - level) / 2
    lo, hi = (np.quantile(draws, [tail, 1 - tail]) if draws.size else (math.nan, math.nan))
    return Estimate(name, value, (float(lo), float(hi)), float(null), boot_p(draws, null, "above"),
                    boot_p(draws, null, "below"), tuple(ks), level, draws)


@dataclass(frozen=True, eq=False)
class Paired:
    """``n`` paired values ``a[i]``, ``b[i]`` (the same unit measured twice).

    ``cl``: P(a > b) over the pairs (+ half the ties); ``cl_ci``: bootstrap over the pairs;
    ``p_greater`` / ``p_less``: one-sided Wilcoxon signed-rank p-values (1 when all differences
    are zero); ``median_diff``: median of ``a - b``; ``cl_boot``: the bootstrap draws.
    """

    n: int
    cl: float
    cl_ci: tuple[float, float]
    p_greater: float
    p_less: float
    median_diff: float
    level: float
    cl_boot: np.ndarray = field(repr=False)


def paired_compare(a: object, b: object, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> Paired:
    """Wilcoxon signed-rank test and P(a > b) for paired samples ``a``, ``b`` (``(n,)``, n >= 2).

    Use it when ``a[i]`` and ``b[i]`` share their units (e.g. the barrier between runs i and j
    at their training weights and at their early-stopping weights); the pairs must be
    independent of each other (disjoint pairs of runs).
    """
    _check_level(level, n_boot)
    xa, xb = _finite_sample(a, "a"), _finite_sample(b, "b")
    if xa.shape != xb.shape:
        raise ValueError(f"paired samples need equal sizes; got {xa.size} and {xb.size}")
    d = xa - xb
    sgn = (d > 0) + 0.5 * (d == 0)
    if np.all(d == 0):
        p_gt = p_lt = 1.0
    else:
        p_gt = float(sps.wilcoxon(xa, xb, alternative="greater").pvalue)
        p_lt = float(sps.wilcoxon(xa, xb, alternative="less").pvalue)
    rng = np.random.default_rng(seed)
    boot = sgn[rng.integers(0, d.size, (n_boot, d.size))].mean(axis=1)
    tail = (1 - level) / 2
    lo, hi = np.quantile(boot, [tail, 1 - tail])
    return Paired(int(d.size), float(sgn.mean()), (float(lo), float(hi)), p_gt, p_lt, float(np.median(d)), level,
                  boot)


Expectation = Literal["greater", "less", "separates", "equivalent", "not greater", "not less"]
"""What a claim says about a statistic relative to its null value: it exceeds it (``greater``;
``separates`` for an oriented AUC, which cannot fall below 0.5), falls below it (``less``),
stays within an equivalence margin (``equivalent``), or does not exceed the margin's upper /
fall below its lower end (``not greater`` / ``not less``: one-sided, non-inferiority)."""

_EXPECTATIONS: tuple[str, ...] = get_args(Expectation)

VERDICTS: tuple[str, ...] = ("supported", "equivalent (supported)", "no excess (supported)", "contradicted",
                             "not resolved")


def decide(expect: Expectation, ci: tuple[float, float], null: float, p_claim: float, p_against: float, *,
           margin: tuple[float, float] | None = None, alpha: float = 0.05) -> str:
    """The verdict on one claim, one of :data:`VERDICTS`.

    ``ci``: the statistic's interval; ``null``: its no-effect value; ``p_claim``: the p-value
    *for* the claim (one-sided in its direction; for ``equivalent`` the larger of the two
    one-sided margin p-values, i.e. TOST; for ``not greater`` the p for "below ``margin[1]``");
    ``p_against``: the p-value for the opposite (a significant effect in the other direction;
    for ``equivalent``/``not ...`` a significant effect at all; for ``separates``, the TOST p of
    no separation). Pass Holm-adjusted p-values when several claims are tested together.

    * ``greater`` / ``less``: ``supported`` when ``p_claim < alpha`` and the interval lies
      entirely on the claimed side of ``null``; ``contradicted`` when ``p_against < alpha`` and
      it lies entirely on the other side; otherwise ``not resolved``.
    * ``separates``: as ``greater``, but ``contradicted`` only when the interval lies inside
      ``margin`` (no separation shown) with ``p_against < alpha``.
    * ``equivalent``: ``equivalent (supported)`` when ``p_claim < alpha`` and the interval lies
      inside ``margin``; ``contradicted`` when ``p_against < alpha`` and the interval excludes
      ``null``; otherwise ``not resolved`` — a non-significant difference is never support.
    * ``not greater`` (``not less``): ``no excess (supported)`` when ``p_claim < alpha`` and the
      interval's upper (lower) end lies below ``margin[1]`` (above ``margin[0]``);
      ``contradicted`` when ``p_against < alpha`` and the interval lies above (below) ``null``.

    Example: ``decide("equivalent", (0.45, 0.6), 0.5, 0.01, 0.7, margin=(0.35, 0.65))``
    is ``"equivalent (supported)"``; with the interval ``(0.2, 0.9)`` it is ``"not resolved"``.
    """
    if expect not in _EXPECTATIONS:
        raise ValueError(f"expect={expect!r}; valid: {', '.join(_EXPECTATIONS)}")
    if expect in ("separates", "equivalent", "not greater", "not less"):
        if margin is None or not margin[0] < null < margin[1]:
            raise ValueError(f"expect={expect!r} needs a margin (lo, hi) around null={null}; got {margin!r}")
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "not resolved"
    m_lo, m_hi = margin if margin is not None else (math.nan, math.nan)  # NaN: only read where required
    # expectation -> (its verdict when supported, the interval that supports it, the interval that contradicts it)
    rules: dict[str, tuple[str, bool, bool]] = {
        "greater": ("supported", lo > null, hi < null),
        "separates": ("supported", lo > null, m_lo < lo and hi < m_hi),
        "less": ("supported", hi < null, lo > null),
        "equivalent": ("equivalent (supported)", m_lo < lo and hi < m_hi, lo > null or hi < null),
        "not greater": ("no excess (supported)", hi < m_hi, lo > null),
        "not less": ("no excess (supported)", lo > m_lo, hi < null),
    }
    supported, inside, against = rules[expect]
    if _significant(p_claim, alpha) and inside:
        return supported
    if _significant(p_against, alpha) and against:
        return "contradicted"
    return "not resolved"


def _significant(p: float, alpha: float) -> bool:
    """``p < alpha`` for a finite ``p`` (a NaN p-value is never significant)."""
    return math.isfinite(p) and p < alpha


def min_p_rank_test(n_a: int, n_b: int) -> float:
    """The smallest one-sided p-value an exact Mann–Whitney test of ``n_a`` against ``n_b``
    values can reach (complete separation): ``1 / C(n_a + n_b, n_a)``.

    A sample too small to reach ``alpha`` cannot resolve any claim, whatever the effect.
    Example: ``min_p_rank_test(3, 3) == 0.05``.
    """
    for name, n in (("n_a", n_a), ("n_b", n_b)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name}={n!r}: must be an integer >= 1")
    return 1.0 / math.comb(int(n_a) + int(n_b), int(n_a))
