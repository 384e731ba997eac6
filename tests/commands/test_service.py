"""`medxai bench service` (export, Triton and the service composed by the command line) on a small load: it
reports what ran, not what it asked for."""

import pytest

from explain_service.bench import IG_STEPS
from medxai.commands.service import service_benchmark

pytestmark = pytest.mark.slow


def test_bench_service_reports_the_ig_steps_that_ran(trained_checkpoint):
    result = service_benchmark(trained_checkpoint, clients=2, requests=3, log=lambda line: None)
    assert result["requests"] == 6 and result["errors"] == 0 and result["p50_ms"] > 0
    ran = {int(steps): count for steps, count in result["ig_steps_ran"].items()}
    assert sum(ran.values()) == 6 and set(ran) <= {IG_STEPS * 2**k for k in range(4)}
    assert result["ig_first_steps"] == IG_STEPS and "service" in result["rss_of"]
