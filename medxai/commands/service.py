"""`medxai serve` (the explain service), `medxai request` (its client) and `medxai bench service` (loopback load
test: export, Triton and the service composed here, the load from `explain_service.bench`). Every `serve` option
can also be set by environment variable."""

import json
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

import typer

from medxai.commands.options import dicom_tags_option, precision_option


def service_benchmark(checkpoint: Path | None, clients: int, requests: int,
                      log: Callable[[str], None] = print, device: str = "cpu", precision: str = "auto",
                      methods: Sequence[str] = ("cam", "ig")) -> dict:
    """Export (or make an untrained resnet18_attention at 64 px), serve with Triton and the service in this
    process on loopback (Triton's target and the service's gradient methods on `device`), then the load test;
    returns requests, errors, latency percentiles and the service's RSS growth."""
    import tempfile

    import torch

    from explain_service.bench import bench_request, load_test
    from explain_service.server import ExplainServer, ServiceConfig
    from export.bench import SERVING_TARGETS, untrained_checkpoint
    from export.release import export_checkpoint
    from export.samples import sample_pixels
    from medxai.checkpoint import read_checkpoint_info
    from medxai.precision import hardware
    from medxai.triton_server import SERVE_TARGETS, TritonServer, free_port

    with tempfile.TemporaryDirectory(prefix="medxai-bench-service-") as folder:
        folder = Path(folder)
        if checkpoint is None:
            torch.manual_seed(0)
            checkpoint = untrained_checkpoint(folder / "untrained.pt", "resnet18_attention", 64)
        info = read_checkpoint_info(checkpoint)
        target = SERVING_TARGETS[torch.device(device).type]
        export_checkpoint(checkpoint, folder / "repository", "bench", target=target, enforce_gate=False,
                          gpu_precision=precision, log=log)
        image = sample_pixels(info.image_size, count=1)[0].permute(1, 2, 0).numpy()
        triton = TritonServer(folder / "repository", http_port=free_port(), grpc_port=free_port(),
                              metrics_port=free_port(), log_path=folder / "triton.log", **SERVE_TARGETS[target])
        with triton:
            config = ServiceConfig(checkpoint=checkpoint, triton_url=triton.grpc_url, model="bench", port=free_port(),
                                   metrics_port=free_port(), audit_log=folder / "audit.jsonl",
                                   max_concurrent=clients, device=device, precision=precision)
            with ExplainServer(config) as service:
                result = load_test(f"127.0.0.1:{service.port}", bench_request(image, methods), clients, requests)
    return result | {"rss_of": "the service's process (Triton runs in its own)", "architecture": info.architecture,
                     "image_size": info.image_size, "target": target, **hardware(device, precision)}


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        checkpoint: Path = typer.Option(..., envvar="MEDXAI_CHECKPOINT",
                                        help="Checkpoint of the model Triton serves (gradient maps run on it)."),
        triton_url: str = typer.Option(..., envvar="MEDXAI_TRITON_URL", help="Triton's gRPC address HOST:PORT."),
        model: str = typer.Option(..., envvar="MEDXAI_MODEL", help="Model name in Triton."),
        port: int = typer.Option(50051, envvar="MEDXAI_PORT"),
        metrics_port: int = typer.Option(9100, envvar="MEDXAI_METRICS_PORT", help="Prometheus /metrics port."),
        health_port: int = typer.Option(None, envvar="MEDXAI_HEALTH_PORT",
                                        help="Also serve health checks alone, in plaintext, on this port "
                                             "(for probes that speak no TLS)."),
        host: str = typer.Option("127.0.0.1", envvar="MEDXAI_HOST",
                                 help="Address the service and its metrics listen on (0.0.0.0: every interface)."),
        audit_log: Path = typer.Option(Path("audit.jsonl"), envvar="MEDXAI_AUDIT_LOG",
                                       help="Append-only JSON lines, one per request (mode 0600)."),
        secret_file: Path = typer.Option(None, envvar="MEDXAI_SECRET_FILE",
                                         help="Secret for the audit trail's caller fingerprints (HMAC of the token); "
                                              "made, mode 0600, on first start; default: audit-secret.key beside "
                                              "the audit log."),
        tls_cert: Path = typer.Option(None, envvar="MEDXAI_TLS_CERT", help="PEM certificate (enables TLS)."),
        tls_key: Path = typer.Option(None, envvar="MEDXAI_TLS_KEY", help="PEM private key."),
        tls_client_ca: Path = typer.Option(None, envvar="MEDXAI_TLS_CLIENT_CA",
                                           help="CA that signs client certificates (enables mutual TLS)."),
        token_file: Path = typer.Option(None, envvar="MEDXAI_TOKEN_FILE",
                                        help="Bearer tokens, one per line; default: $MEDXAI_SERVICE_TOKENS "
                                             "(comma-separated); none: no token needed."),
        insecure: bool = typer.Option(False, envvar="MEDXAI_INSECURE",
                                      help="Accept bearer tokens without TLS (they can then be read on the way)."),
        max_concurrent: int = typer.Option(8, envvar="MEDXAI_MAX_CONCURRENT",
                                           help="Requests worked on at once; more get RESOURCE_EXHAUSTED."),
        max_message_mb: int = typer.Option(32, envvar="MEDXAI_MAX_MESSAGE_MB"),
        memory_budget_mb: int = typer.Option(4096, envvar="MEDXAI_MEMORY_BUDGET_MB",
                                             help="Memory for decoding images: the pixel limit is what lets "
                                                  "max-concurrent requests decode at once within it (56 bytes a "
                                                  "pixel); the default is half the k8s pod's 8 GiB limit."),
        work_budget: int = typer.Option(2000, envvar="MEDXAI_WORK_BUDGET",
                                        help="Model passes one request may cost (IG steps, LIME samples, "
                                             "faithfulness curves; at most 20000); more is refused."),
        default_deadline_s: float = typer.Option(300.0, envvar="MEDXAI_DEFAULT_DEADLINE_S",
                                                 help="Deadline for requests whose client set none, or a later one."),
        triton_timeout_s: float = typer.Option(10.0, envvar="MEDXAI_TRITON_TIMEOUT_S"),
        precision: str = precision_option(),
        device: str = typer.Option("cpu", envvar="MEDXAI_DEVICE", help="Where Grad-CAM and IG run: cpu or cuda."),
        dicom_tags: str = dicom_tags_option(envvar="MEDXAI_DICOM_TAGS"),
    ) -> None:
        """Serve Predict, Explain, ExplainStream and ListModels over gRPC until SIGTERM or Ctrl-C.

        Example: medxai serve --checkpoint demo/run/best.pt --triton-url 127.0.0.1:8001 --model chest_xray --port 50051
        """
        from explain_service.auth import load_tokens
        from explain_service.server import ExplainServer, ServiceConfig
        config = ServiceConfig(checkpoint=checkpoint, triton_url=triton_url, model=model, port=port,
                               metrics_port=metrics_port, health_port=health_port, host=host, audit_log=audit_log, secret_file=secret_file,
                               tls_cert=tls_cert, tls_key=tls_key, tls_client_ca=tls_client_ca,
                               tokens=load_tokens(token_file), insecure=insecure, max_concurrent=max_concurrent,
                               max_message_mb=max_message_mb, memory_budget_mb=memory_budget_mb,
                               work_budget=work_budget, default_deadline_s=default_deadline_s,
                               triton_timeout_s=triton_timeout_s, precision=precision, device=device,
                               dicom_tags=dicom_tags)
        server = ExplainServer(config).start()
        signal.signal(signal.SIGTERM, lambda signum, frame: server.stop())
        transport = "mutual TLS" if tls_client_ca else "TLS" if tls_cert else "plaintext"
        typer.echo(f"explain service on {host}:{server.port} ({transport}, "
                   f"{'token required' if config.tokens else 'no token'}); metrics on {host}:{metrics_port}; "
                   f"audit {audit_log}; images up to {config.max_pixels} pixels, {work_budget} model passes")
        try:
            server.wait()
        except KeyboardInterrupt:
            server.stop()

    @app.command("request")
    def request(
        image: Path = typer.Option(..., help="PNG, JPEG, TIFF, DICOM or NumPy .npy file to explain."),
        out: Path = typer.Option(..., help="Folder for <method>.npy, <method>.png and response.json."),
        address: str = typer.Option("127.0.0.1:50051", envvar="MEDXAI_SERVICE", help="The explain service."),
        methods: str = typer.Option("cam,ig,lime,fusion", help="Comma-separated: cam, gradcam, gradcam++, hirescam, "
                                                                "layercam, ig, lime, fusion."),
        token_file: Path = typer.Option(None, help="File holding a bearer token (its first line that is not blank "
                                                   "or a # comment)."),
        tls_ca: Path = typer.Option(None, help="CA certificate of a TLS service."),
        allow_out_of_scope: bool = typer.Option(False, help="Explain an image outside the model's intended use "
                                                            "too, marked research_only (default: refused)."),
    ) -> None:
        """Ask the explain service for an image's explanation; maps are saved as they stream in. An image
        outside the model's intended use gets the reason (in response.json too) and exit code 2.

        Example: medxai request --image scan.png --out explained --address 127.0.0.1:50051
        """
        import grpc
        from explain_service.auth import load_tokens
        from explain_service.client import explain_to_folder
        from medxai.errors import UserError
        for path in (image, token_file, tls_ca):
            if path is not None and not path.is_file():
                raise UserError(f"file not found: {path}")
        token = load_tokens(token_file)[0] if token_file else None
        try:
            summary = explain_to_folder(address, image, out, [m.strip() for m in methods.split(",") if m.strip()],
                                        token, tls_ca, log=typer.echo, allow_out_of_scope=allow_out_of_scope)
        except grpc.RpcError as exc:
            raise UserError(f"{address} answered {exc.code().name}: {exc.details()}") from None
        if not summary["scope"]["in_scope"] and not allow_out_of_scope:
            raise UserError(f"{image}: {summary['scope']['reason']}; no diagnosis and no maps "
                            "(--allow-out-of-scope explains it for research)")
        typer.echo(json.dumps({k: summary[k] for k in ("request_id", "predicted", "prediction")}
                              | {"response": str(out / "response.json")}))

    @bench_app.command("service")
    def bench_service(
        checkpoint: Path = typer.Option(None, help="Checkpoint to serve; default: an untrained resnet18_attention "
                                                   "at 64 px."),
        clients: int = typer.Option(8, min=1, max=64, help="Concurrent clients."),
        requests: int = typer.Option(50, min=1, max=1000, help="Requests per client."),
        device: str = typer.Option("cpu", help="cpu, or cuda: Triton's gpu-python target and the service's "
                                               "gradient methods on the GPU."),
        precision: str = precision_option(),
        methods: str = typer.Option("cam,ig", help="Methods per request; cam,ig,lime,fusion for full "
                                                       "explanations."),
    ) -> None:
        """Loopback load on Triton + the service: clients x requests Explain calls (default CAM + IG from 8
        steps).

        Example: medxai bench service --clients 8 --requests 50
        """
        typer.echo(json.dumps(service_benchmark(checkpoint, clients, requests, log=typer.echo, device=device,
                                                  precision=precision, methods=methods.split(","))))
