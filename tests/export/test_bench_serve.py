"""`bench serve` end to end on the CPU at a tiny size: the same code path `--device cuda` takes, with the
cpu target instead of gpu-python. Checks what it reports, not how fast anything was."""

import pytest

from export.bench import serve_benchmark


@pytest.mark.slow
def test_bench_serve_reports_parity_levels_and_the_precision_used(make_checkpoint):
    result = serve_benchmark(make_checkpoint(1), "resnet18_attention", 64, [1, 2], requests=4, precision="fp32",
                             log=lambda line: None)
    assert result["target"] == "cpu" and result["precision"] == "fp32" and result["cpu_capability"]
    assert result["parity_max_abs_diff"] <= 1e-4 and result["parity_top1_agreement"] == 1.0
    for level in (1, 2):
        assert result[f"triton_ips_c{level}"] > 0 and result[f"torch_ips_c{level}"] > 0
        assert result[f"ratio_c{level}"] == pytest.approx(
            result[f"triton_ips_c{level}"] / result[f"torch_ips_c{level}"], rel=0.02)
