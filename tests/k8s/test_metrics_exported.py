"""Every metric name the alert rules, the prometheus-adapter rules and the Grafana panels use is one the live
Triton and the live explain service really export, scraped after real requests (so labelled counters and
histograms exist). Names from elsewhere must be on a short list that says where they come from."""

import json
import re
import urllib.request
from pathlib import Path

import grpc
import pytest
import yaml

from explain_service.protos import explain_pb2 as pb
from tests.explain_service.conftest import (SMALL, held_out, in_scope, lesion_image,  # noqa: F401 (fixtures)
                                            make_service, repository, service, stub_for, triton)
from tests.k8s.conftest import find

K8S = Path(__file__).resolve().parents[2] / "k8s"
GPU_ONLY = {"nv_gpu_utilization", "nv_gpu_memory_used_bytes", "nv_gpu_memory_total_bytes"}
"""Triton's GPU metrics (docs/user_guide/metrics.md, label gpu_uuid): exported only where a GPU is, so on a
CPU machine the names are checked against this list instead of a scrape."""
ELSEWHERE = {"up": "Prometheus itself", "kube_deployment_spec_replicas": "kube-state-metrics",
             "kube_deployment_status_replicas_available": "kube-state-metrics"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression (what is left once strings, label matchers, ranges, grouping
    clauses, adapter templates, functions, keywords and numbers are taken out)."""
    expr = re.sub(r"<<[^>]*>>", "", expr)
    expr = re.sub(r'"[^"]*"|\{[^}]*\}|\[[^\]]*\]', " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    tokens = re.findall(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", expr)
    return {name for name, call in tokens if not call and name not in KEYWORDS}


def used_names(objects: list[dict]) -> dict[str, set[str]]:
    """Where each metric name is used: the PrometheusRule, prometheus-adapter's values, the Grafana panels."""
    rules = find(objects, "PrometheusRule", "medxai")["spec"]["groups"]
    adapter = yaml.safe_load((K8S / "prometheus-adapter" / "values.yaml").read_text())["rules"]["custom"]
    dashboard = json.loads(find(objects, "ConfigMap", "medxai-grafana-dashboard")["data"]["grafana-dashboard.json"])
    sources = {"alert rules": [rule["expr"] for group in rules for rule in group["rules"]],
               "prometheus-adapter": [rule[key] for rule in adapter for key in ("seriesQuery", "metricsQuery")],
               "grafana": [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]}
    return {source: set().union(*map(metric_names, exprs)) for source, exprs in sources.items()}


def test_metric_names_are_found_in_promql():
    assert metric_names('histogram_quantile(0.95, sum by (method, le) (rate(a_bucket{method=~"Explain"}[5m]))) > 15'
                        ) == {"a_bucket"}
    assert metric_names("avg(delta(q_us{<<.LabelMatchers>>}[30s]) / (1 + delta(ok{<<.LabelMatchers>>}[30s])))"
                        ) == {"q_us", "ok"}
    assert metric_names("used / total > 0.9 and on (pod) up == 0") == {"used", "total", "up"}


def scrape(url: str) -> set[str]:
    """Sample names exactly as exposed, which is how Prometheus stores them (prometheus_client's parser would
    add `_total` to Triton's counters, whose names have none)."""
    with urllib.request.urlopen(url, timeout=30) as response:
        lines = response.read().decode().splitlines()
    return {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group() for line in lines if line and line[0] != "#"}


@pytest.fixture(scope="module")
def exported(triton, service, lesion_image) -> set[str]:
    """Sample names on both /metrics pages after one full explanation and one refused request."""
    channel, stub = stub_for(service)
    with channel:
        stub.Explain(pb.ExplainRequest(image=pb.Image(encoded=lesion_image), **SMALL), timeout=300)
        with pytest.raises(grpc.RpcError):
            stub.Predict(pb.PredictRequest(image=pb.Image(encoded=b"not an image")), timeout=60)
    return scrape(triton.metrics_url) | scrape(f"http://127.0.0.1:{service.config.metrics_port}/metrics")


def test_every_metric_used_by_rules_adapter_and_dashboard_is_exported(objects, exported):
    used = used_names(objects["prod-gpu"])
    assert used["alert rules"] and used["prometheus-adapter"] and used["grafana"]
    gpu_here = any(name.startswith("nv_gpu_") for name in exported)
    for source, names in used.items():
        for name in sorted(names):
            if name in ELSEWHERE or (name in GPU_ONLY and not gpu_here):
                continue
            assert name in exported, f"{source} uses {name}, which neither Triton nor the explain service exports"
    assert set().union(*used.values()) >= set(ELSEWHERE) | GPU_ONLY  # the lists above are all in use
