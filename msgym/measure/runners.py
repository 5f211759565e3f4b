"""Where kernels run: this machine, or devices behind TVM's RPC tracker.

``create("local")`` or ``create("rpc://HOST:PORT/KEY")``; entry points accept a name or an instance.
``create("fake")`` runs nothing: a program's latency is a deterministic function of its fingerprint,
so tests of the env, the agents and the commands run in seconds (never for figures).
A tracker and servers are TVM's own (``python -m tvm.exec.rpc_tracker`` / ``rpc_server``): see the
README's "Measuring on other machines".
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

__all__ = ["Runner", "LocalRunner", "RPCRunner", "FakeRunner", "RunnerError", "create"]


class RunnerError(ValueError):
    """A runner string that does not parse, or a tracker / key that cannot be used."""


@dataclasses.dataclass(frozen=True)
class Runner:
    name = "base"

    def check(self) -> None:
        """Fail early, in the caller's process, if this runner cannot be used."""

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class LocalRunner(Runner):
    name = "local"


@dataclasses.dataclass(frozen=True)
class FakeRunner(Runner):
    """Builds and runs nothing: latency 0.1-10 ms, a deterministic function of the program.
    ``drift``: each measurement is that much slower than the one before (a machine drifting:
    for tests of drift detection)."""

    drift: float = 0.0
    calls: list = dataclasses.field(default_factory=lambda: [0], compare=False)  # measurements so far

    name = "fake"

    def measure(self, mod: Any) -> Any:
        from msgym._tvm import structural_key
        from msgym.measure.result import MeasureResult

        fraction = int(structural_key(mod), 16) / 2**64
        latency = 1e-4 * 100**fraction * (1 + self.drift) ** self.calls[0]
        self.calls[0] += 1
        return MeasureResult(latency_s=latency, repeats=[latency] * 3)


@dataclasses.dataclass(frozen=True)
class RPCRunner(Runner):
    host: str = "127.0.0.1"
    port: int = 9190
    key: str = "local"
    session_timeout_s: float = 120.0
    connect_timeout_s: float = 10.0

    name = "rpc"

    def __str__(self) -> str:
        return f"rpc://{self.host}:{self.port}/{self.key}"

    def check(self) -> None:
        """The tracker answers and knows at least one server under ``key``."""
        import socket

        try:
            with socket.create_connection((self.host, self.port), timeout=self.connect_timeout_s):
                pass
        except OSError as err:
            raise RunnerError(f"runner {self}: no RPC tracker answers at {self.host}:{self.port} ({err})") from None
        from tvm import rpc

        summary = rpc.connect_tracker(self.host, self.port).summary()
        keys = sorted(
            set(summary.get("queue_info", {}))
            | {s["key"].removeprefix("server:") for s in summary.get("server_info", []) if "key" in s}
        )
        if self.key not in keys:
            raise RunnerError(
                f"runner {self}: the tracker at {self.host}:{self.port} has no server with key "
                f"{self.key!r}; keys it knows: {keys or 'none'}"
            )


_RPC = re.compile(r"^rpc://(?P<host>[^:/\s]+):(?P<port>\d+)/(?P<key>[^/\s]+)$")


def create(spec: "str | Runner | None" = None) -> Runner:
    if spec is None or spec == "local":
        return LocalRunner()
    if spec == "fake":
        return FakeRunner()
    if isinstance(spec, Runner):
        return spec
    match = _RPC.match(str(spec))
    if not match:
        raise RunnerError(
            f"runner {spec!r} does not parse; use 'local', 'fake' or 'rpc://HOST:PORT/KEY' "
            "(e.g. rpc://127.0.0.1:9190/rasp4b)"
        )
    port = int(match["port"])
    if not 0 < port < 65536:
        raise RunnerError(f"runner {spec!r}: port {port} is out of range 1-65535")
    return RPCRunner(host=match["host"], port=port, key=match["key"])
