"""Held-out measurement helpers: pass@k and the paired gain with its standard error."""
import math
import random

import pytest

from agentic_lab.eval import paired_gain, pass_at_k


def test_pass_at_k_matches_the_ratio_of_binomials():
    for n, c, k in [(10, 3, 1), (10, 3, 5), (64, 1, 64), (64, 0, 8), (20, 19, 2)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


def test_paired_gain_is_the_mean_difference_with_the_standard_error_of_the_differences():
    before, after = [0, 1, 1, 0, 0], [1, 1, 1, 0, 1]
    diffs = [1, 0, 0, 0, 1]
    mean = sum(diffs) / 5
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 4 / 5)
    assert paired_gain(before, after) == pytest.approx((mean, se))
    assert paired_gain(before, before) == (0.0, 0.0)
    with pytest.raises(ValueError):
        paired_gain(before, after[:-1])


def test_pairing_removes_the_noise_that_both_measurements_share():
    """Tasks differ in difficulty; a small change that flips few tasks gets a small error bar when paired."""
    rng = random.Random(0)
    before = [float(rng.random() < 0.5) for _ in range(1000)]
    after = [1.0 if (b == 0 and rng.random() < 0.1) else b for b in before]  # 10% of the failures fixed
    gain, se = paired_gain(before, after)
    p0, p1 = sum(before) / 1000, sum(after) / 1000
    unpaired = math.sqrt(p0 * (1 - p0) / 1000 + p1 * (1 - p1) / 1000)
    assert gain == pytest.approx(p1 - p0)
    assert se < unpaired / 2 and gain / se > 3
