"""Held-out measurement helpers: pass@k, the paired gain with its standard error, and the copy probes."""
import math
import random

import pytest

from agentic_lab.eval import COPY_FILLER, COPY_PROBES, copied, copy_probe, paired_gain, pass_at_k, right_prefix
from agentic_lab.tasks import STRING_KINDS
from agentic_lab.world import fact_table


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


def test_copy_probes_ask_for_a_string_the_world_does_not_hold_at_the_stated_length_and_distance():
    rng = random.Random(0)
    for probe in COPY_PROBES:
        for kind in STRING_KINDS:
            messages, target = copy_probe(rng, probe, kind, 16)
            assert len(target) == 16 and target.lower() not in fact_table()
            text = "\n".join(str(m["content"]) for m in messages)
            assert target in text
            notes = messages[-1]["content"].splitlines() if probe != "call" else []
            assert len(notes) == {"call": 0, "near": 1, "far": 1 + COPY_FILLER}[probe]


def test_a_copy_is_scored_on_the_search_query_and_its_right_prefix():
    call = '<tool_call>{"name": "search", "arguments": {"query": "Kalabu"}}</tool_call>'
    assert copied(call) == "Kalabu" and copied("<answer>Kalabu</answer>") == "Kalabu" and copied("garbage") == ""
    assert right_prefix("Kalabo", "Kalabu") == 5 and right_prefix("Kal", "Kalabu") == 3
    assert right_prefix("Kalabu!", "Kalabu") == 6 and right_prefix("x", "Kalabu") == 0
