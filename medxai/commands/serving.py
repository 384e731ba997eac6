"""`medxai export`, `medxai triton serve` and `medxai bench serve`."""

import json
import signal
from pathlib import Path

import typer

from medxai.commands.options import precision_option


def _interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    triton_app = typer.Typer(help="Run the real Triton Inference Server here.", no_args_is_help=True)
    app.add_typer(triton_app, name="triton")

    @app.command("export")
    def export(
        checkpoint: Path = typer.Option(..., help="A medxai checkpoint (best.pt)."),
        repository: Path = typer.Option(..., help="Triton model repository to write into."),
        name: str = typer.Option(..., help="Model name in the repository."),
        version: int = typer.Option(None, help="Version number; default: one above the newest."),
        target: str = typer.Option("all", help="cpu (configs/cpu.pbtxt), gpu (config.pbtxt, NGC image), gpu-python "
                                               "(configs/gpu-python.pbtxt, this tritonserver on CUDA), both (cpu "
                                               "and gpu) or all."),
        force: bool = typer.Option(False, help="Overwrite an existing version or config, and release even when "
                                               "the release gate (parity, sanity, shortcut) refuses."),
        input_dtype: str = typer.Option("float32", help="Pixels clients send: float32 (0-1) or uint8 (0-255)."),
        data: Path = typer.Option(None, help="Real images to verify the export on (its test split when it has one; "
                                             "with masks or boxes, the shortcut check); default: drawn phantoms."),
        samples: int = typer.Option(48, help="How many images parity and the shortcut check's accuracy run on "
                                             "(the sanity check on the first 8; the shortcut check's maps on 8 of "
                                             "each class)."),
        shortcut_check: str = typer.Option("refuse", help="When the model's evidence lies outside the sample "
                                                          "images' expert regions: refuse, warn or off."),
        scope_check: str = typer.Option("refuse", help="When the model's out-of-distribution detector accepts "
                                                       "images it was never meant for (other phantoms, noise, flat "
                                                       "images): refuse, warn or off."),
        tolerance: float = typer.Option(1e-4, help="Largest allowed |difference| of probabilities vs PyTorch."),
        tensorrt_fp16: bool = typer.Option(False, help="GPU config: TensorRT FP16 execution accelerator."),
        precision: str = precision_option(),
    ) -> None:
        """Export ONNX + TorchScript, verify parity, gate, and write a new Triton repository version.

        Example: medxai export --checkpoint demo/run/best.pt --repository model_repository --name chest_xray --target all
        """
        from export.release import export_checkpoint
        result = export_checkpoint(checkpoint, repository, name, version=version, target=target, overwrite=force,
                                   enforce_gate=not force, input_dtype=input_dtype, data=data, samples=samples,
                                   tolerance=tolerance, tensorrt_fp16=tensorrt_fp16, gpu_precision=precision,
                                   shortcut_check=shortcut_check, scope_check_mode=scope_check, log=typer.echo)
        typer.echo(json.dumps(result.summary()))

    @triton_app.command("setup")
    def setup(
        environment: Path = typer.Option(None, envvar="MEDXAI_TRITON_ENV",
                                         help="Folder of the environment tritonserver runs in (every command that "
                                              "starts tritonserver reads the variable; default: `triton` inside "
                                              "medxai's own environment, .venv/triton)."),
        wheels: Path = typer.Option(None, help="Install only from this folder of wheels (a machine without a "
                                               "network): nvidia-pytriton 0.7.0 and NumPy 1.26."),
    ) -> None:
        """Build the environment tritonserver runs in: the nvidia-pytriton wheel (the binary and the Python
        backend's stub) with NumPy 1, which that stub needs, apart from medxai's NumPy. make install runs it.

        Example: medxai triton setup
        """
        from medxai.triton_server import setup_environment
        typer.echo(f"Triton environment ready: {setup_environment(environment, wheels)}")

    @triton_app.command("serve")
    def serve(
        repository: Path = typer.Option(..., help="Triton model repository (written by medxai export)."),
        http_port: int = typer.Option(8000), grpc_port: int = typer.Option(8001),
        metrics_port: int = typer.Option(8002),
        address: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for every interface)."),
        target: str = typer.Option("cpu", help="cpu: configs/cpu.pbtxt (Python backend + ONNX Runtime); "
                                               "gpu-python: configs/gpu-python.pbtxt (Python backend + PyTorch on "
                                               "CUDA, runs with this tritonserver); gpu: config.pbtxt (needs the "
                                               "NGC image's ONNX Runtime backend)."),
        model_control: str = typer.Option("explicit", help="explicit (development: clients may load new "
                                                           "versions) or none (production: fixed set)."),
        log_file: Path = typer.Option(Path("tritonserver.log"), help="Server log."),
    ) -> None:
        """Serve every model of a repository with tritonserver, in the foreground until interrupted.

        Example: medxai triton serve --repository model_repository --http-port 8000 --grpc-port 8001 --metrics-port 8002
        """
        from medxai.errors import UserError
        from medxai.triton_server import SERVE_TARGETS, TritonServer
        if target not in SERVE_TARGETS:
            raise UserError(f"target must be one of {', '.join(SERVE_TARGETS)}, got '{target}'")
        server = TritonServer(repository, http_port=http_port, grpc_port=grpc_port, metrics_port=metrics_port,
                              address=address, model_control=model_control, log_path=log_file,
                              **SERVE_TARGETS[target])
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.start()
            typer.echo(f"tritonserver ready: HTTP {server.http_url}, gRPC {server.grpc_url}, metrics "
                       f"{server.metrics_url}; log {log_file}; Ctrl-C stops")
            code = server.wait()
        except KeyboardInterrupt:
            typer.echo(f"tritonserver stopped (exit code {server.stop()})")
            return
        finally:
            server.stop()  # idempotent; whatever ends this command, no tritonserver is left behind
        raise UserError(f"tritonserver exited with code {code}: {server.last_error()}")

    @bench_app.command("serve")
    def bench_serve(
        checkpoint: Path = typer.Option(None, help="Checkpoint to serve; default: an untrained --model."),
        model: str = typer.Option("resnet50_attention", help="Architecture when no checkpoint is given."),
        image_size: int = typer.Option(224, help="Image size when no checkpoint is given."),
        concurrency: str = typer.Option("1,8,32", help="Comma-separated client concurrencies."),
        requests: int = typer.Option(64, help="Requests (one image each) per concurrency level."),
        precision: str = precision_option(),
        device: str = typer.Option("cpu", help="cpu (Triton's cpu target) or cuda (its gpu-python target)."),
    ) -> None:
        """Images/s and p50/p95/p99 latency: Triton with dynamic batching vs a naive one-at-a-time PyTorch loop,
        on the same device, with the parity of Triton's answers.

        Example: medxai bench serve --model resnet50_attention --image-size 224 --concurrency 1,8,32 --requests 64
        """
        from export.bench import serve_benchmark
        from medxai.errors import UserError
        try:
            levels = [int(level) for level in concurrency.split(",")]
        except ValueError:
            raise UserError(f"--concurrency must be comma-separated integers, got '{concurrency}'") from None
        result = serve_benchmark(checkpoint, model, image_size, levels, requests, precision, log=typer.echo,
                                  device=device)
        typer.echo(json.dumps(result))
