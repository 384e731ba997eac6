"""JSON schemas for the prometheus-operator CRDs we use, written from their `openAPIV3Schema`
(monitoring.coreos.com/v1, prometheus-operator v0.7x as installed by kube-prometheus-stack): kubernetes-validate
knows no CRD, so these check that our ServiceMonitors and PrometheusRule carry only fields the CRD defines,
of the right types, with durations in the operator's format."""

DURATION = {"type": "string",
            "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
LABEL_SELECTOR = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "matchLabels": STRING_MAP,
        "matchExpressions": {"type": "array", "items": {
            "type": "object", "required": ["key", "operator"], "additionalProperties": False,
            "properties": {"key": {"type": "string"}, "operator": {"type": "string"},
                           "values": {"type": "array", "items": {"type": "string"}}}}},
    },
}
METADATA = {"type": "object", "required": ["name"],
            "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                           "namespace": {"type": "string"}, "labels": STRING_MAP, "annotations": STRING_MAP}}


def _resource(kind: str, spec: dict) -> dict:
    return {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
            "properties": {"apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": kind},
                           "metadata": METADATA, "spec": spec}}


ENDPOINT = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "port": {"type": "string"}, "targetPort": {"type": ["integer", "string"]}, "path": {"type": "string"},
        "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]}, "interval": DURATION, "scrapeTimeout": DURATION,
        "honorLabels": {"type": "boolean"}, "honorTimestamps": {"type": "boolean"},
        "trackTimestampsStaleness": {"type": "boolean"}, "enableHttp2": {"type": "boolean"},
        "followRedirects": {"type": "boolean"}, "filterRunning": {"type": "boolean"},
        "params": {"type": "object"}, "proxyUrl": {"type": "string"}, "bearerTokenFile": {"type": "string"},
        "bearerTokenSecret": {"type": "object"}, "basicAuth": {"type": "object"}, "authorization": {"type": "object"},
        "oauth2": {"type": "object"}, "tlsConfig": {"type": "object"},
        "relabelings": {"type": "array", "items": {"type": "object"}},
        "metricRelabelings": {"type": "array", "items": {"type": "object"}},
    },
}
SERVICE_MONITOR = _resource("ServiceMonitor", {
    "type": "object", "required": ["selector", "endpoints"], "additionalProperties": False,
    "properties": {
        "selector": LABEL_SELECTOR,
        "endpoints": {"type": "array", "minItems": 1, "items": ENDPOINT},
        "namespaceSelector": {"type": "object", "additionalProperties": False,
                              "properties": {"any": {"type": "boolean"},
                                             "matchNames": {"type": "array", "items": {"type": "string"}}}},
        "jobLabel": {"type": "string"}, "targetLabels": {"type": "array", "items": {"type": "string"}},
        "podTargetLabels": {"type": "array", "items": {"type": "string"}},
        "sampleLimit": {"type": "integer"}, "targetLimit": {"type": "integer"},
        "scrapeProtocols": {"type": "array", "items": {"type": "string"}},
        "attachMetadata": {"type": "object"}, "scrapeClass": {"type": "string"},
    },
})
RULE = {
    "type": "object", "required": ["expr"], "additionalProperties": False,
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": {"type": "string"}, "record": {"type": "string"},
        "expr": {"type": ["string", "integer"], "minLength": 1},
        "for": DURATION, "keep_firing_for": DURATION,
        "labels": {"type": "object", "propertyNames": {"pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"},
                   "additionalProperties": {"type": "string"}},
        "annotations": STRING_MAP,
    },
}
PROMETHEUS_RULE = _resource("PrometheusRule", {
    "type": "object", "additionalProperties": False,
    "properties": {"groups": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["name", "rules"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 1}, "interval": DURATION,
                       "query_offset": DURATION, "limit": {"type": "integer"}, "partial_response_strategy": {"type": "string"},
                       "labels": STRING_MAP, "rules": {"type": "array", "items": RULE}}}}},
})
SCHEMAS = {"ServiceMonitor": SERVICE_MONITOR, "PrometheusRule": PROMETHEUS_RULE}
