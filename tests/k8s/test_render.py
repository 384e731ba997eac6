"""The overlays render, every object passes Kubernetes' own schemas (strict), the prometheus-operator objects
pass schemas written from their CRDs, and every pod keeps to the Pod Security Standard "restricted"."""

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.cli import assert_help_with_example, assert_user_error, medxai
from tests.k8s.conftest import VARIANTS, find, pod_specs
from tests.k8s.monitoring_schemas import SCHEMAS

KUBERNETES_VERSION = kubernetes_validate.latest_version()


def test_every_overlay_and_component_is_there():
    assert set(VARIANTS) == {"dev-cpu", "prod-gpu", "prod-gpu+pacs-gateway", "prod-gpu+s3-repository"}


def test_s3_component_fills_tritons_own_copy_of_the_repository_before_it_starts(objects):
    items = objects["prod-gpu+s3-repository"]
    pod = find(items, "Deployment", "triton")["spec"]["template"]["spec"]
    assert [container["name"] for container in pod["initContainers"]] == ["sync-repository"]
    assert {"name": "repository", "emptyDir": {"sizeLimit": "20Gi"}} in pod["volumes"]
    assert all(volume["name"] != "data" for volume in pod["volumes"])  # the shared volume is not mounted
    assert find(items, "NetworkPolicy", "triton-object-storage")["metadata"]["namespace"] == "medxai"
    assert_user_error(medxai("k8s", "render", "--overlay", "prod-gpu", "--component", "nfs"), "no component 'nfs'")


def test_pacs_gateway_queues_on_its_own_volume_and_reaches_only_the_service_and_the_pacs(objects):
    items = objects["prod-gpu+pacs-gateway"]
    gateway = find(items, "Deployment", "pacs-gateway")
    assert gateway["spec"]["replicas"] == 1 and gateway["spec"]["strategy"]["type"] == "Recreate"
    pod = gateway["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"][:2] == ["pacs", "receive"] and "--queue=/queue" in container["args"]
    assert {"name": "queue", "persistentVolumeClaim": {"claimName": "medxai-pacs-queue"}} in pod["volumes"]
    assert find(items, "PersistentVolumeClaim", "medxai-pacs-queue")["spec"]["accessModes"] == ["ReadWriteOnce"]
    sources = [list(e["valueFrom"].items())[0] for e in container["env"] if "valueFrom" in e]
    assert sources[:2] == [("configMapKeyRef", {"name": "medxai-pacs", "key": "url"}),
                           ("configMapKeyRef", {"name": "medxai-pacs", "key": "user"})]
    assert {kind for kind, _ in sources} == {"configMapKeyRef"}  # no secret in the environment
    optional = {source["key"] for kind, source in sources[2:] if source.get("optional")}
    assert optional == {"calling-ae-titles", "dicom-tls-cert", "dicom-tls-key", "dicom-tls-client-ca"}
    assert {"name": "dicom-tls", "secret": {"secretName": "medxai-pacs-dicom-tls", "optional": True,
                                            "defaultMode": 0o440}} in pod["volumes"]
    assert {"name": "pacs", "mountPath": "/etc/medxai/pacs", "readOnly": True} in container["volumeMounts"]
    assert gateway["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.hospital.example/medxai:0.1.0"
    egress = find(items, "NetworkPolicy", "pacs-gateway")["spec"]["egress"]
    assert egress[0]["to"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "explain-service"}
    service_ingress = find(items, "NetworkPolicy", "explain-service")["spec"]["ingress"]
    assert any(rule["from"][0].get("podSelector", {}).get("matchLabels") == {"app.kubernetes.io/name": "pacs-gateway"}
               for rule in service_ingress)
    assert not any(item["metadata"]["name"] == "pacs-gateway" for item in objects["prod-gpu"])


@pytest.mark.parametrize("overlay", VARIANTS)
def test_every_object_passes_kubernetes_schemas_strictly(objects, overlay):
    crds = []
    for item in objects[overlay]:
        try:
            kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            crds.append(item)
    # What Kubernetes has no schema for is exactly the prometheus-operator objects; they meet their CRDs'.
    assert sorted({item["kind"] for item in crds}) == sorted(SCHEMAS)
    for item in crds:
        jsonschema.validate(item, SCHEMAS[item["kind"]])


def test_crd_schemas_refuse_what_the_crds_do_not_define(objects):
    monitor = find(objects["prod-gpu"], "ServiceMonitor", "triton")
    typo = monitor | {"spec": monitor["spec"] | {"endpoints": [{"port": "metrics", "intervall": "15s"}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, SCHEMAS["ServiceMonitor"])
    rules = find(objects["prod-gpu"], "PrometheusRule", "medxai")
    rule = rules["spec"]["groups"][0]["rules"][0] | {"for": "ten minutes"}
    bad = rules | {"spec": {"groups": [{"name": "medxai", "rules": [rule]}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMAS["PrometheusRule"])


@pytest.mark.parametrize("overlay", VARIANTS)
def test_every_pod_is_restricted_with_requests_and_limits(objects, overlay):
    namespace = find(objects[overlay], "Namespace", "medxai")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    specs = pod_specs(objects[overlay])
    gateway = {"Deployment/pacs-gateway"} if overlay.endswith("+pacs-gateway") else set()
    assert set(specs) == {"Deployment/triton", "Deployment/explain-service", "Deployment/dashboard",
                          "CronJob/medxai-train", "CronJob/medxai-export"} | gateway
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name


def test_prod_gpu_serves_the_ngc_gpu_config_with_poll_and_a_gpu(objects):
    items = objects["prod-gpu"]
    triton = find(items, "Deployment", "triton")["spec"]["template"]["spec"]["containers"][0]
    assert triton["image"].startswith("nvcr.io/nvidia/tritonserver:")
    assert "--model-control-mode=poll" in triton["args"]
    assert not any(arg.startswith("--model-config-name") for arg in triton["args"])  # config.pbtxt: GPU
    assert triton["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert triton["startupProbe"]["periodSeconds"] * triton["startupProbe"]["failureThreshold"] >= 300
    assert {"HorizontalPodAutoscaler"} <= {item["kind"] for item in items}
    service = find(items, "Deployment", "explain-service")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "MEDXAI_DEVICE", "value": "cuda"} in service["env"]
    assert "grpc" in service["readinessProbe"]


def test_dev_cpu_serves_the_cpu_config_without_gpus_one_replica_each(objects, rendered):
    items = objects["dev-cpu"]
    assert "nvidia.com/gpu" not in rendered["dev-cpu"]
    triton = find(items, "Deployment", "triton")["spec"]["template"]["spec"]["containers"][0]
    assert triton["args"][:2] == ["triton", "serve"] and "--target=cpu" in triton["args"]
    assert all(item["spec"].get("replicas", 1) == 1 for item in items if item["kind"] == "Deployment")
    assert "HorizontalPodAutoscaler" not in {item["kind"] for item in items}


def test_service_and_export_read_the_checkpoint_from_one_config_map(objects):
    items = objects["prod-gpu"]
    service = find(items, "Deployment", "explain-service")["spec"]["template"]["spec"]["containers"][0]
    export = find(items, "CronJob", "medxai-export")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    model_refs = {env["valueFrom"]["configMapKeyRef"]["name"] for env in service["env"] + export["env"]
                  if env["name"] == "MEDXAI_MODEL"}
    assert len(model_refs) == 1 and find(items, "ConfigMap", model_refs.pop())["data"]["model"]


def test_render_command_pins_the_image_by_tag_or_digest():
    tagged = medxai("k8s", "render", "--overlay", "prod-gpu", "--image-tag", "2.3.4")
    assert tagged.returncode == 0, tagged.stderr
    images = {container["image"] for item in yaml.safe_load_all(tagged.stdout)
              for spec in pod_specs([item]).values() for container in spec["containers"]}
    assert images == {"registry.hospital.example/medxai:2.3.4", "nvcr.io/nvidia/tritonserver:24.10-py3"}
    digest = "sha256:" + "ab" * 32
    pinned = medxai("k8s", "render", "--overlay", "dev-cpu", "--image-tag", digest)
    assert pinned.returncode == 0, pinned.stderr
    assert f"image: medxai@{digest}" in pinned.stdout and "medxai:0.1.0-cpu" not in pinned.stdout


def test_render_command_user_errors_and_help():
    assert_user_error(medxai("k8s", "render", "--overlay", "staging"), "no overlay 'staging'")
    assert_user_error(medxai("k8s", "render", "--overlay", "dev-cpu", "--image-tag", "a b"), "--image-tag must be")
    assert_help_with_example("k8s", "render")
