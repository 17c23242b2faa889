"""Summary statistics for probe results: the mean, percentile bootstrap intervals, the
seed variance and noise floor, and Cohen's d.

The percentile bootstrap (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*)
resamples the n observed values with replacement B times and computes the mean of
each resample. The alpha/2 and 1 - alpha/2 quantiles of those B means form the
(1 - alpha) confidence interval of the mean. It assumes the
observations are independent draws from one distribution, so examples that repeat
(for example the same prompt drawn under two seeds) make the interval too narrow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_N_BOOTSTRAP = 10_000

# Upper bound on the number of resampled values held in memory at once (B x n).
_MAX_RESAMPLE_ELEMENTS = 4_000_000


def _as_finite_vector(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: need at least one value")
    if not np.all(np.isfinite(array)):
        bad = array[~np.isfinite(array)][:5].tolist()
        raise ValueError(f"{name} contains non-finite values, for example {bad}")
    return array


def mean(values: Sequence[float] | np.ndarray) -> float:
    """Return the arithmetic mean of a non-empty vector of finite values."""
    return float(_as_finite_vector(values, "values").mean())


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Compute the percentile bootstrap confidence interval of the mean.

    Draws `n_bootstrap` resamples of size n with replacement from a
    `numpy.random.Generator` seeded with `seed`, so the interval is reproducible.
    Returns `(lo, hi)`. With a single value, or with all values equal, every
    resample has the same mean and the interval has zero width.
    """
    array = _as_finite_vector(values, "values")
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")

    rng = np.random.default_rng(seed)
    n = array.size
    rows_per_chunk = max(1, _MAX_RESAMPLE_ELEMENTS // n)
    resample_means = np.empty(n_bootstrap, dtype=np.float64)
    for start in range(0, n_bootstrap, rows_per_chunk):
        stop = min(start + rows_per_chunk, n_bootstrap)
        indices = rng.integers(0, n, size=(stop - start, n))
        resample_means[start:stop] = array[indices].mean(axis=1)

    alpha = 1.0 - confidence
    lo, hi = np.quantile(resample_means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def ratio_of_means(numerator: Sequence[float] | np.ndarray, denominator: Sequence[float] | np.ndarray) -> float:
    """Return mean(numerator) / mean(denominator) for paired values, raising when the denominator mean is zero."""
    top = _as_finite_vector(numerator, "numerator")
    bottom = _as_finite_vector(denominator, "denominator")
    if top.size != bottom.size:
        raise ValueError(f"numerator and denominator must be paired, got {top.size} and {bottom.size} values")
    denominator_mean = float(bottom.mean())
    if denominator_mean == 0.0:
        raise ValueError("the denominator's mean is zero, so the ratio of means is undefined")
    return float(top.mean()) / denominator_mean


def bootstrap_ratio_ci(
    numerator: Sequence[float] | np.ndarray,
    denominator: Sequence[float] | np.ndarray,
    *,
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Compute the paired percentile bootstrap interval of mean(numerator) / mean(denominator).

    Normalised patching effects are ratios of means over examples, such as
    (mean patched - mean corrupted) / (mean clean - mean corrupted). Each resample draws
    example indices with replacement and takes both means over the same indices, so the
    pairing between numerator and denominator is kept (a paired bootstrap; Efron &
    Tibshirani 1993, ch. 6). Resamples whose denominator mean is zero are dropped; when
    fewer than half remain the interval is undefined and ValueError is raised.
    """
    top = _as_finite_vector(numerator, "numerator")
    bottom = _as_finite_vector(denominator, "denominator")
    if top.size != bottom.size:
        raise ValueError(f"numerator and denominator must be paired, got {top.size} and {bottom.size} values")
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")

    rng = np.random.default_rng(seed)
    n = top.size
    rows_per_chunk = max(1, _MAX_RESAMPLE_ELEMENTS // n)
    ratios = np.empty(n_bootstrap, dtype=np.float64)
    for start in range(0, n_bootstrap, rows_per_chunk):
        stop = min(start + rows_per_chunk, n_bootstrap)
        indices = rng.integers(0, n, size=(stop - start, n))
        bottom_means = bottom[indices].mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[start:stop] = top[indices].mean(axis=1) / bottom_means
    finite = ratios[np.isfinite(ratios)]
    if finite.size < n_bootstrap / 2:
        raise ValueError("the denominator's mean is zero in most bootstrap resamples, so the interval is undefined")

    alpha = 1.0 - confidence
    lo, hi = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def cohens_d(treatment: Sequence[float] | np.ndarray, control: Sequence[float] | np.ndarray) -> float:
    """Compute Cohen's d: the difference of means over the pooled standard deviation.

    Uses the pooled sample standard deviation with n - 1 denominators (Cohen 1988,
    *Statistical Power Analysis for the Behavioral Sciences*).
    Returns 0.0 when both groups have zero variance and equal means, and raises
    when the variance is zero but the means differ, because d is then unbounded.
    """
    a = _as_finite_vector(treatment, "treatment")
    b = _as_finite_vector(control, "control")
    if a.size < 2 or b.size < 2:
        raise ValueError(f"Cohen's d needs at least 2 values per group, got {a.size} and {b.size}")
    pooled_var = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    difference = float(a.mean() - b.mean())
    if pooled_var == 0.0:
        if difference == 0.0:
            return 0.0
        raise ValueError(
            f"Cohen's d is undefined: both groups have zero variance but the means differ by {difference}"
        )
    return difference / float(np.sqrt(pooled_var))


def seed_variance(values_per_seed: Sequence[float] | np.ndarray) -> float:
    """Return the sample variance (n - 1 denominator) of a metric measured once per seed.

    Each seed draws its own examples, so the spread of the per-seed values is how much a
    rerun with another seed moves the metric: the seed-to-seed variability of the design.
    With a single seed there is no spread to measure and 0.0 is returned, so read it
    together with the number of seeds.
    """
    array = _as_finite_vector(values_per_seed, "values_per_seed")
    if array.size < 2:
        return 0.0
    return float(array.var(ddof=1))


def noise_floor(values_per_seed: Sequence[float] | np.ndarray) -> float:
    """Return the noise floor: the sample standard deviation of the per-seed values.

    An effect smaller than this is within what rerunning with another seed would give, so
    it cannot be distinguished from seed noise. This is a rule of thumb for reading results,
    not a significance test; the bootstrap intervals answer whether a mean differs from a
    value. It is the square root of `seed_variance`, and 0.0 with a single seed.
    """
    return float(np.sqrt(seed_variance(values_per_seed)))
