import numpy as np
import pytest

from auto_research_probe.stats import bootstrap_ci, cohens_d, mean


def test_bootstrap_ci_contains_mean():
    values = np.random.default_rng(1).normal(3.0, 1.0, size=200)
    lo, hi = bootstrap_ci(values, n_bootstrap=2000, seed=0)
    assert lo < mean(values) < hi


def test_bootstrap_ci_narrows_with_n():
    rng = np.random.default_rng(2)
    small = rng.normal(0.0, 1.0, size=20)
    large = rng.normal(0.0, 1.0, size=2000)
    small_lo, small_hi = bootstrap_ci(small, n_bootstrap=2000, seed=0)
    large_lo, large_hi = bootstrap_ci(large, n_bootstrap=2000, seed=0)
    assert (large_hi - large_lo) < (small_hi - small_lo) / 3


def test_bootstrap_ci_matches_normal_theory():
    # For a large sample the percentile interval is close to mean +- 1.96 * sd / sqrt(n).
    values = np.random.default_rng(3).normal(0.0, 1.0, size=5000)
    lo, hi = bootstrap_ci(values, seed=0)
    expected_half_width = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert abs((hi - lo) / 2 - expected_half_width) < 0.1 * expected_half_width


def test_bootstrap_ci_seeded_reproducible():
    values = np.arange(50.0)
    assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
    assert bootstrap_ci(values, seed=7) != bootstrap_ci(values, seed=8)


def test_bootstrap_ci_constant_values_zero_width():
    assert bootstrap_ci([4.0] * 10) == (4.0, 4.0)
    assert bootstrap_ci([2.5]) == (2.5, 2.5)


def test_bootstrap_ci_chunked_large_input():
    # 10,000 resamples of 1,000 values exceed one chunk, so the chunk loop runs.
    values = np.random.default_rng(4).normal(size=1000)
    lo, hi = bootstrap_ci(values, n_bootstrap=10_000, seed=0)
    assert lo < values.mean() < hi


@pytest.mark.parametrize(
    ("values", "message"),
    [([], "empty"), ([1.0, float("nan")], "non-finite"), ([[1.0, 2.0]], "one-dimensional")],
)
def test_bootstrap_ci_rejects_invalid_values(values, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(values)


def test_bootstrap_ci_rejects_bad_settings():
    with pytest.raises(ValueError, match="n_bootstrap"):
        bootstrap_ci([1.0, 2.0], n_bootstrap=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=1.0)


def test_cohens_d_known_value():
    # Means differ by 1 and both groups have sample sd 1, so d = 1.
    assert cohens_d([1.0, 2.0, 3.0], [0.0, 1.0, 2.0]) == pytest.approx(1.0)


def test_cohens_d_zero_variance():
    assert cohens_d([1.0, 1.0], [1.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="zero variance"):
        cohens_d([2.0, 2.0], [1.0, 1.0])


def test_ratio_of_means_is_mean_over_mean():
    from auto_research_probe.stats import ratio_of_means

    assert ratio_of_means([1.0, 3.0], [2.0, 6.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="denominator"):
        ratio_of_means([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="paired"):
        ratio_of_means([1.0], [1.0, 2.0])


def test_bootstrap_ratio_ci_contains_ratio_and_keeps_pairs():
    import numpy as np

    from auto_research_probe.stats import bootstrap_ratio_ci, ratio_of_means

    rng = np.random.default_rng(1)
    denominator = rng.normal(10.0, 1.0, size=200)
    numerator = 0.3 * denominator + rng.normal(0.0, 0.1, size=200)
    lo, hi = bootstrap_ratio_ci(numerator, denominator, n_bootstrap=2000, seed=0)
    assert lo <= ratio_of_means(numerator, denominator) <= hi
    # Numerator and denominator move together, so a paired resample keeps the ratio
    # close to 0.3; resampling them independently would give a far wider interval.
    assert hi - lo < 0.01
    assert bootstrap_ratio_ci(numerator, denominator, n_bootstrap=500, seed=3) == bootstrap_ratio_ci(
        numerator, denominator, n_bootstrap=500, seed=3
    )


def test_seed_variance_and_noise_floor():
    from auto_research_probe.stats import noise_floor, seed_variance

    assert seed_variance([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert noise_floor([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert noise_floor([2.0, 2.0, 2.0]) == 0.0
    # One seed measures no spread, so the docstring asks readers to check the seed count.
    assert seed_variance([5.0]) == 0.0
    assert noise_floor([5.0]) == 0.0
    with pytest.raises(ValueError, match="non-finite"):
        noise_floor([1.0, float("nan")])
