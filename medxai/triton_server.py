"""Start the real `tritonserver` binary shipped in the nvidia-pytriton wheel on a model repository.

The binary and the Python backend's stub live in an environment of their own (`triton_environment`, built by
`medxai triton setup`, which `make install` runs), apart from medxai's:
- the wheel's stub is built against NumPy 1. With NumPy 2.0.2 or 2.4.6 in the stub's interpreter, tritonserver
  2.51 loads Python-backend models but every input reaches `execute` as zeros and every response is empty;
  with NumPy 1.26 the same models answer correctly (docs/concepts/precision.md). The wheel also declares
  `numpy<2`. So the stub's environment holds the wheel and NumPy 1, and medxai's own may hold NumPy 2;
- the stub's environment sees medxai's packages after its own (a `.pth` file that adds medxai's
  site-packages): the models' code imports ONNX Runtime, PyTorch and medxai from there, the very versions
  the release gate checked the exported graph with, and `numpy` resolves to the stub's NumPy 1. Both
  environments therefore run the same Python version;
- the stub runs `python3` from PATH, so the stub environment's bin folder goes first on PATH (PYTHONPATH is
  ignored), and LD_LIBRARY_PATH points at this interpreter's LIBDIR, or the stub may load the system
  libpython against our standard library;
- the backend folder must hold libtriton_python.so, triton_python_backend_utils.py and the stub built for this
  Python version: a runtime folder of symlinks provides that without touching the installed wheel;
- GPU flags set to zero/false keep a CPU-only machine's log free of CUDA errors but one harmless line
  ("CudaDriverHelper has not been initialized.").

Model control: `explicit` (development, tests) lets a client load a new version while requests flow; use
`none` in production, where the served set must be exactly the repository the pod started with and no
client may load or unload models.
"""
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from medxai.errors import UserError

MODEL_CONTROL_MODES = ("explicit", "none")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


TRITON_ENV_VARIABLE = "MEDXAI_TRITON_ENV"
"""Environment variable: the folder of the stub's environment, when not `triton` inside medxai's own."""
STUB_REQUIREMENTS = ("nvidia-pytriton==0.7.0", "numpy>=1.26,<2")
"""What the stub's environment installs (without dependencies: only the binary, the stub and NumPy 1 are used)."""
LAYER_FILE = "medxai-environment.pth"
"""The `.pth` file in the stub's site-packages that adds medxai's site-packages after its own."""


def triton_environment() -> Path:
    """The virtual environment that holds tritonserver and runs the Python backend's stub:
    $MEDXAI_TRITON_ENV, else `triton` inside the environment medxai runs in (`.venv/triton` after make)."""
    return Path(os.environ.get(TRITON_ENV_VARIABLE) or Path(sys.prefix) / "triton").resolve()


def _site_packages(environment: Path) -> Path:
    """The site-packages folder a virtual environment of this Python version has."""
    return environment / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def pytriton_server_dir(environment: Path | None = None) -> Path:
    """The `tritonserver` folder of the nvidia-pytriton wheel in the stub's environment (default
    `triton_environment()`). Raises UserError when that environment lacks it or runs another Python version."""
    environment = environment or triton_environment()
    server = _site_packages(environment) / "pytriton" / "tritonserver"
    if not (server / "bin" / "tritonserver").is_file():
        others = sorted(path.name for path in (environment / "lib").glob("python*"))
        cause = (f"it holds Python {', '.join(others)}, medxai runs {sys.version_info.major}."
                 f"{sys.version_info.minor}" if others else "it does not exist")
        raise UserError(f"no tritonserver in {environment} ({cause}): run `medxai triton setup` "
                        f"(make install does)")
    return server


def setup_environment(environment: Path | None = None, wheels: Path | None = None) -> Path:
    """Build the stub's environment (default `triton_environment()`): a virtual environment of this Python
    version with `STUB_REQUIREMENTS` (wheels only, from pip's configured index, or only from the folder `wheels`
    on a machine without a network), and a `.pth` file that adds, after its own packages, the folders this
    interpreter imports medxai's packages from (its site-packages and $PYTHONPATH's entries). Idempotent;
    returns the folder.

    Raises UserError when pip fails (on Python 3.13: NumPy 1 has no wheel for it)."""
    environment = (environment or triton_environment()).resolve()
    python = environment / "bin" / "python"
    base = getattr(sys, "_base_executable", sys.executable)
    source = ["--no-index", "--find-links", str(wheels)] if wheels else []
    install = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:", *source,
               *STUB_REQUIREMENTS]
    steps = ([] if python.is_file() else [[base, "-m", "venv", str(environment)]]) + [install]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            raise UserError(f"building the Triton environment {environment} failed ({' '.join(step[2:4])}): "
                            f"{lines[-1]}")
    paths = sysconfig.get_paths()
    folders = [*os.environ.get("PYTHONPATH", "").split(os.pathsep), paths["purelib"], paths["platlib"]]
    layer = "".join(f"import site; site.addsitedir({str(Path(folder).resolve())!r})\n"
                    for folder in dict.fromkeys(folders) if folder)
    (_site_packages(environment) / LAYER_FILE).write_text(layer)
    pytriton_server_dir(environment)
    return environment


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _runtime_backends(folder: Path) -> Path:
    """A backend folder of symlinks: the Python backend with the stub for this interpreter's version."""
    server = pytriton_server_dir()
    stub = server / "python_backend_stubs" / f"{sys.version_info.major}.{sys.version_info.minor}" / \
        "triton_python_backend_stub"
    if not stub.is_file():
        raise UserError(f"nvidia-pytriton has no Python-backend stub for Python "
                        f"{sys.version_info.major}.{sys.version_info.minor} ({stub})")
    python = folder / "backends" / "python"
    if python.is_dir():
        return folder / "backends"
    python.mkdir(parents=True)
    for source in (server / "backends" / "python" / "libtriton_python.so",
                   server / "backends" / "python" / "triton_python_backend_utils.py", stub):
        (python / source.name).symlink_to(source)
    return folder / "backends"


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{triton_environment() / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    env["LD_LIBRARY_PATH"] = os.pathsep.join(part for part in (libdir, env.get("LD_LIBRARY_PATH", "")) if part)
    return env


def _terminate_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies, so a crashed test or CLI leaves no server."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def popen_bound_to_parent(command: Sequence[str], **options) -> subprocess.Popen:
    """`subprocess.Popen(command, **options)` in a session of its own, the child getting SIGTERM when this
    process dies (prctl PR_SET_PDEATHSIG), so that a crashed test or CLI leaves no server behind.

    util-linux's `setpriv --pdeathsig TERM` sets the signal and execs the command in the same process (same pid).
    A Python `preexec_fn` does the same from the forked child, which is unsafe once the parent runs threads (the
    Python docs say so): with a gRPC client's threads running, such a child crashed before exec (a Triton
    restart in tests/explain_service/test_faults.py). The preexec_fn is only the fallback where setpriv is
    missing."""
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        return subprocess.Popen([setpriv, "--pdeathsig", "TERM", *command], start_new_session=True, **options)
    return subprocess.Popen(list(command), start_new_session=True, preexec_fn=_terminate_with_parent, **options)


SERVE_TARGETS = {"cpu": {"config_name": "cpu"}, "gpu": {"config_name": None},
                 "gpu-python": {"config_name": "gpu-python", "cuda_memory_pool_mb": 256}}
"""Per serving target: which config Triton reads, and the CUDA pool the gpu-python target's tensors use."""


class _ExitedWhileStarting(Exception):
    """tritonserver exited before it was ready; `TritonServer.start` may try again."""


class TritonServer:
    """A running tritonserver; use as a context manager, or `start()` / `stop()`.

    `config_name` selects `<model>/configs/<config_name>.pbtxt` where a model has one (the CPU config), else
    Triton falls back to `config.pbtxt`. `load_models` are loaded at start in explicit mode ("*" = all).
    The server is terminated when the thread that started it ends: start it from a long-lived thread.
    """

    def __init__(self, repository: str | Path, *, http_port: int = 8000, grpc_port: int = 8001,
                 metrics_port: int = 8002, address: str = "127.0.0.1", model_control: str = "explicit",
                 load_models: Sequence[str] = ("*",), config_name: str | None = "cpu",
                 log_path: str | Path | None = None, startup_timeout_s: float = 120.0,
                 exit_timeout_s: int = 10, cuda_memory_pool_mb: int = 0):
        self.repository = Path(repository).resolve()
        if not self.repository.is_dir():
            raise UserError(f"model repository not found: {self.repository}")
        if model_control not in MODEL_CONTROL_MODES:
            raise UserError(f"model control must be one of {', '.join(MODEL_CONTROL_MODES)}, got '{model_control}'")
        self.http_port, self.grpc_port, self.metrics_port = http_port, grpc_port, metrics_port
        self.address = address
        self.model_control = model_control
        self.load_models = list(load_models)
        self.config_name = config_name
        self.startup_timeout_s = startup_timeout_s
        self.exit_timeout_s = exit_timeout_s
        self.cuda_memory_pool_mb = cuda_memory_pool_mb  # GPU 0's pool: the gpu-python target's DLPack tensors
        self._runtime: Path | None = None  # made by `start`: a server never started leaves nothing on disk
        self.log_path: Path | None = Path(log_path) if log_path else None
        self._process: subprocess.Popen | None = None

    @property
    def grpc_url(self) -> str:
        return f"{self.address}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"{self.address}:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.address}:{self.metrics_port}/metrics"

    def command(self) -> list[str]:
        """The tritonserver command line; needs the runtime folder `start` makes."""
        command = [str(pytriton_server_dir() / "bin" / "tritonserver"),
                   f"--model-repository={self.repository}",
                   f"--backend-directory={_runtime_backends(self._runtime)}",
                   f"--http-address={self.address}", f"--http-port={self.http_port}",
                   f"--grpc-address={self.address}", f"--grpc-port={self.grpc_port}",
                   f"--metrics-address={self.address}", f"--metrics-port={self.metrics_port}",
                   "--allow-gpu-metrics=false", "--pinned-memory-pool-byte-size=0",
                   f"--cuda-memory-pool-byte-size=0:{self.cuda_memory_pool_mb << 20}", f"--exit-timeout-secs={self.exit_timeout_s}",
                   f"--model-control-mode={self.model_control}"]
        if self.config_name:
            command.append(f"--model-config-name={self.config_name}")
        if self.model_control == "explicit":
            command += [f"--load-model={name}" for name in self.load_models]
        return command

    def start(self, attempts: int = 2) -> "TritonServer":
        """Start the binary and wait until /v2/health/ready answers 200 (all requested models loaded).

        A server that exits while starting is started once more (`attempts`): what fails for a passing reason
        (a port taken between choosing and binding it, a resource briefly short) then starts, and what fails for
        a lasting one (a broken model, a port in use) fails again, costing a second or two. The log keeps every
        attempt; the error names the last one's cause. Raises UserError."""
        self._runtime = Path(tempfile.mkdtemp(prefix="medxai-triton-"))
        self.log_path = self.log_path or self._runtime / "tritonserver.log"
        command = self.command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, attempts + 1):
            with open(self.log_path, "ab") as log:
                # Own session: Ctrl-C in a foreground `medxai triton serve` reaches us, and we shut Triton down once.
                self._process = popen_bound_to_parent(command, stdout=log, stderr=subprocess.STDOUT,
                                                      env=_environment())
            try:
                self._wait_ready()
                return self
            except _ExitedWhileStarting as exited:
                if attempt == attempts:
                    self._cleanup()
                    raise UserError(str(exited)) from None
                retry = f"{exited}; starting again (attempt {attempt + 1} of {attempts})"
                logging.getLogger(__name__).warning(retry)
                with open(self.log_path, "a") as log:
                    log.write(f"medxai: {retry}\n")
        raise AssertionError("unreachable")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        url = f"http://{self.address}:{self.http_port}/v2/health/ready"
        while time.monotonic() < deadline:
            if self._exited(0):
                raise _ExitedWhileStarting(f"tritonserver exited with code {self._end_process()} while "
                                           f"starting: {self.last_error()} (log: {self.log_path})")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise UserError(f"tritonserver was not ready within {self.startup_timeout_s:.0f} s: {self.last_error()} "
                        f"(log: {self.log_path})")

    def last_error(self) -> str:
        """The cause from the server log, for one-line messages: its last error line with a message (CUDA noise
        skipped), else its last `error: ...` line (how tritonserver says why it exits), else its last line."""
        lines = [line.strip() for line in self.log_path.read_text(errors="replace").splitlines()] \
            if self.log_path and self.log_path.is_file() else []
        causes = [line.split("] ", 1)[-1].strip('" ') for line in lines
                  if line.startswith("E") and "] " in line and "CudaDriverHelper" not in line]
        exits = [line for line in lines if line.startswith("error:")]
        return ([cause for cause in causes if cause] or exits or [line for line in lines if line]
                or ["no log output"])[-1]

    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None and not self._exited(0)

    def wait(self) -> int:
        """Block until the server exits by itself (foreground serving); then `stop` clears what it left."""
        self._exited(None)
        return self.stop()

    def stop(self) -> int:
        """SIGTERM (Triton finishes in-flight requests, up to exit_timeout_s), then SIGKILL; then whatever is left
        of its process group: a tritonserver that was killed leaves its Python-backend stubs running. Returns the
        exit code."""
        code = self._end_process()
        self._cleanup()
        return code

    def _end_process(self) -> int:
        """`stop` without clearing the runtime folder (a second start uses it); returns the exit code."""
        if self._process is None:
            return 0
        if self._process.returncode is None:  # not reaped yet, so its pid (our group id) is still ours
            if not self._exited(0):
                self._process.send_signal(signal.SIGTERM)
                if not self._exited(self.exit_timeout_s + 20):
                    self._process.kill()
            self._exited(None)
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # a clean shutdown stops the stubs itself
            self._process.wait()
        return self._process.returncode

    def _exited(self, timeout_s: float | None) -> bool:
        """Whether the server has exited within `timeout_s` (None: wait as long as it takes), without reaping it."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not os.waitid(os.P_PID, self._process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def _cleanup(self) -> None:
        """Remove the runtime folder, keeping it only when it holds the log."""
        if self._runtime is None:
            return
        if self.log_path.is_relative_to(self._runtime):
            shutil.rmtree(self._runtime / "backends", ignore_errors=True)
        else:
            shutil.rmtree(self._runtime, ignore_errors=True)

    def __enter__(self) -> "TritonServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
