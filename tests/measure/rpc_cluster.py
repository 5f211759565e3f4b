"""A TVM RPC tracker and servers on 127.0.0.1 only, for tests (never 0.0.0.0)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def rpc_cluster(key: str, n_servers: int = 2, threads: int | None = None) -> Iterator[int]:
    """Start a tracker and ``n_servers`` servers registered under ``key``, their CPU kernels on
    ``threads`` threads (default: this machine's cores, what its targets say); yield the tracker port."""
    from msgym._tvm import host_cores, make_target

    threads = threads or host_cores(make_target(None))
    port = free_port()
    # Each in its own process group: servers fork workers that must die with them.
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tvm.exec.rpc_tracker",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--port-end",
                str(port + 1),
                "--silent",
            ],
            start_new_session=True,
        )
    ]
    try:
        _wait_for_port(port)
        for _ in range(n_servers):
            sport = free_port()
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tvm.exec.rpc_server",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(sport),
                        "--port-end",
                        str(sport + 1),
                        "--tracker",
                        f"127.0.0.1:{port}",
                        "--key",
                        key,
                        "--custom-addr",
                        "127.0.0.1",
                        "--silent",
                    ],
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={**os.environ, "TVM_NUM_THREADS": str(threads)},
                )
            )
        _wait_for_servers(port, key, n_servers)
        yield port
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the RPC tracker did not start on 127.0.0.1:{port}")


def _wait_for_servers(port: int, key: str, n: int, timeout: float = 120.0) -> None:
    from tvm import rpc

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = rpc.connect_tracker("127.0.0.1", port).summary()
        free = summary.get("queue_info", {}).get(key, {}).get("free", 0)
        if free >= n:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{n} RPC servers with key {key!r} did not register with the tracker")
