"""Monitoring series for the dashboard: from the Prometheus HTTP API when there is one, otherwise from the
service's and Triton's /metrics, scraped on each refresh and kept in memory for the session.

Both sources give the same panels, each a long table (time, series, value): request rate, error ratio,
latency p50/p95/p99 per stage (the service's histograms), and per Triton model version the request rate,
failures, and mean queue and compute time per request.
"""

import json
import math
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

QUANTILES = (0.5, 0.95, 0.99)
SCRAPE_TIMEOUT_S = 3.0
WINDOW = "2m"
PANELS = ("request rate (1/s)", "error ratio", "stage latency (s)", "Triton requests (1/s)",
          "Triton failures (1/s)", "Triton queue time per request (ms)", "Triton compute time per request (ms)")


@dataclass
class Snapshot:
    """One scrape: when, and every sample as (name, labels) -> value."""

    time: float
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(urls: dict[str, str]) -> tuple[Snapshot, dict[str, str]]:
    """Read every /metrics endpoint; returns the snapshot and, per endpoint that failed, why."""
    samples, failures = {}, {}
    for name, url in urls.items():
        try:
            with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_S) as response:
                text = response.read().decode()
        except OSError as exc:
            failures[name] = f"{url}: {exc}"
            continue
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return Snapshot(time.time(), samples), failures


def _sum(snapshot: Snapshot, name: str, by: tuple[str, ...] = (), where: dict | None = None) -> dict[tuple, float]:
    """Samples named `name` summed by the label values `by`."""
    totals: dict[tuple, float] = {}
    for (sample, labels), value in snapshot.samples.items():
        labels = dict(labels)
        if sample == name and all(labels.get(k) == v for k, v in (where or {}).items()):
            key = tuple(labels.get(label, "") for label in by)
            totals[key] = totals.get(key, 0.0) + value
    return totals


def histogram_quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus's histogram_quantile on cumulative bucket counts {upper bound: count}: linear within the
    bucket holding the q-th observation; NaN with no observations."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return math.nan
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if math.isinf(bound):
                return lower
            inside = buckets[bound] - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = bound, buckets[bound]
    return lower


def _rates(before: Snapshot, after: Snapshot, name: str, by: tuple[str, ...]) -> dict[tuple, float]:
    seconds = max(after.time - before.time, 1e-9)
    earlier = _sum(before, name, by)
    return {key: max(value - earlier.get(key, 0.0), 0.0) / seconds for key, value in _sum(after, name, by).items()}


def _scraped(counter: str) -> str:
    """A Triton counter's sample name as prometheus_client's parser gives it: it appends `_total` to every
    counter sample, while Prometheus keeps the exposed name (which is what the PromQL below uses)."""
    return f"{counter}_total"


def _per_request(before: Snapshot, after: Snapshot, name: str, scale: float) -> dict[tuple, float]:
    """Mean of a Triton duration counter per successful request between two scrapes, per model version."""
    by = ("model", "version")
    spent = _rates(before, after, _scraped(name), by)
    done = _rates(before, after, _scraped("nv_inference_request_success"), by)
    return {key: spent[key] / done[key] * scale for key in spent if done.get(key)}


def _stage_quantiles(before: Snapshot, after: Snapshot) -> dict[str, float]:
    buckets: dict[str, dict[float, float]] = {}
    earlier = _sum(before, "medxai_explain_stage_seconds_bucket", ("stage", "le"))
    for (stage, le), value in _sum(after, "medxai_explain_stage_seconds_bucket", ("stage", "le")).items():
        buckets.setdefault(stage, {})[float(le)] = value - earlier.get((stage, le), 0.0)
    return {f"{stage} p{round(q * 100)}": histogram_quantile(q, counts)
            for stage, counts in buckets.items() for q in QUANTILES}


def scraped_panels(snapshots: list[Snapshot]) -> dict[str, pd.DataFrame]:
    """The panels from consecutive scrapes (each point covers the interval since the previous scrape)."""
    rows: dict[str, list[dict]] = {panel: [] for panel in PANELS}

    def add(panel: str, when: pd.Timestamp, values: dict) -> None:
        for key, value in values.items():
            label = key if isinstance(key, str) else " v".join(part for part in key if part) or "all"
            if not math.isnan(value):
                rows[panel].append({"time": when, "series": label, "value": value})

    for before, after in zip(snapshots, snapshots[1:]):
        when = pd.Timestamp(after.time, unit="s")
        requests = _rates(before, after, "medxai_explain_requests_total", ())
        errors = _rates(before, after, "medxai_explain_errors_total", ())
        add("request rate (1/s)", when, requests)
        if requests.get((), 0) > 0:
            add("error ratio", when, {"all": errors.get((), 0.0) / requests[()]})
        add("stage latency (s)", when, _stage_quantiles(before, after))
        for panel, counter in (("Triton requests (1/s)", "nv_inference_request_success"),
                               ("Triton failures (1/s)", "nv_inference_request_failure")):
            add(panel, when, _rates(before, after, _scraped(counter), ("model", "version")))
        add("Triton queue time per request (ms)", when,
            _per_request(before, after, "nv_inference_queue_duration_us", 1e-3))
        add("Triton compute time per request (ms)", when,
            _per_request(before, after, "nv_inference_compute_infer_duration_us", 1e-3))
    return {panel: pd.DataFrame(found, columns=["time", "series", "value"]) for panel, found in rows.items()}


def _by_version(rate_of: str) -> str:
    return f"sum by (model, version) (rate({rate_of}[{WINDOW}]))"


PROMQL = {
    "request rate (1/s)": [("all", f"sum(rate(medxai_explain_requests_total[{WINDOW}]))")],
    "error ratio": [("all", f"(sum(rate(medxai_explain_errors_total[{WINDOW}])) or vector(0)) / "
                            f"sum(rate(medxai_explain_requests_total[{WINDOW}]))")],  # no error series yet: 0
    "stage latency (s)": [(f"p{round(q * 100)}", f"histogram_quantile({q}, sum by (le, stage) "
                                                 f"(rate(medxai_explain_stage_seconds_bucket[{WINDOW}])))")
                          for q in QUANTILES],
    "Triton requests (1/s)": [("", _by_version("nv_inference_request_success"))],
    "Triton failures (1/s)": [("", _by_version("nv_inference_request_failure"))],
    "Triton queue time per request (ms)": [("", f"{_by_version('nv_inference_queue_duration_us')} / "
                                                f"{_by_version('nv_inference_request_success')} / 1000")],
    "Triton compute time per request (ms)": [("", f"{_by_version('nv_inference_compute_infer_duration_us')} / "
                                                  f"{_by_version('nv_inference_request_success')} / 1000")],
}


def prometheus_panels(base_url: str, minutes: int = 30, step_s: int = 15) -> dict[str, pd.DataFrame]:
    """The same panels from Prometheus's query_range API over the last `minutes`."""
    end = time.time()
    panels = {}
    for panel, queries in PROMQL.items():
        found = []
        for suffix, query in queries:
            parameters = urllib.parse.urlencode({"query": query, "start": end - minutes * 60, "end": end,
                                                 "step": step_s})
            url = f"{base_url.rstrip('/')}/api/v1/query_range?{parameters}"
            with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_S) as response:
                answer = json.load(response)
            for series in answer["data"]["result"]:
                labels = series["metric"]
                name = " ".join(part for part in (labels.get("stage") or labels.get("model", ""),
                                                  f"v{labels['version']}" if "version" in labels else "", suffix)
                                if part) or "all"
                found += [{"time": pd.Timestamp(float(t), unit="s"), "series": name, "value": float(v)}
                          for t, v in series["values"] if not math.isnan(float(v))]
        panels[panel] = pd.DataFrame(found, columns=["time", "series", "value"])
    return panels


def latency_since_start(snapshot: Snapshot) -> pd.DataFrame:
    """Per stage: observations and p50/p95/p99 (s) over everything the service has counted so far."""
    quantiles = _stage_quantiles(Snapshot(0.0, {}), snapshot)
    observed = _sum(snapshot, "medxai_explain_stage_seconds_count", ("stage",))
    rows = [{"stage": stage, "count": int(count),
             **{f"p{round(q * 100)}": quantiles.get(f"{stage} p{round(q * 100)}") for q in QUANTILES}}
            for (stage,), count in sorted(observed.items())]
    return pd.DataFrame(rows, columns=["stage", "count", *(f"p{round(q * 100)}" for q in QUANTILES)])
