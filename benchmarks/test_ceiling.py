"""The hardware ceiling the step benchmarks are judged against: fp32 matmul FLOP/s.

Measured twice, before the other benchmarks and after them (``conftest.py`` moves
``test_matmul_ceiling[after]`` to the end), because a shared machine's speed drifts during a
run; the report divides by the higher of the two, so utilisation is never flattered.
"""

from __future__ import annotations

import pytest
from measure import Settings, machine_description, matmul_flops_per_second


@pytest.mark.parametrize("when", ["before", "after"])
def test_matmul_ceiling(benchmark, record, settings: Settings, when: str) -> None:
    best: list[float] = []
    benchmark.pedantic(lambda: best.append(matmul_flops_per_second(settings)), rounds=1, iterations=1)
    record(benchmark, kind="ceiling", when=when, matmul_flops_per_s=best[0], **machine_description(settings))
