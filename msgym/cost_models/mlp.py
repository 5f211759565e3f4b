"""msgym's MLP cost model.

It reads MetaSchedule's per-store features of a candidate's final program (one row per
buffer store, 164 numbers, already log-scaled by TVM): a per-row encoder, a sum over the program's
rows, a head (the segment-sum design of TenSet/TLP). Its output is a predicted log speedup over
the task's unscheduled program. It trains with a pairwise ranking loss within each task (RankNet:
a regression loss alone ranks poorly) plus a small regression term on the log speedup, so the
output both ranks and means something (the env's predicted reward uses it).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from msgym.cost_models.base import CostModel, CostModelError
from msgym.cost_models.data import TaskData, check_trainable, feature_rows, final_programs, scores, task_data
from msgym.features import PER_STORE
from msgym.space import DesignSpaces

__all__ = ["FAILED_SLOWDOWN", "MLPConfig", "MLPCostModel"]

# A failed candidate (its build abandoned or timed out, a wrong output, a run past its timeout) is
# learned as this many times slower than the slowest its task has measured: ranked below every
# success, as MetaSchedule's XGBoost ranks failures (zero throughput). Dropping them, as before,
# left a search proposing the kind of candidate that had just failed, batch after batch.
FAILED_SLOWDOWN = 2.0


@dataclasses.dataclass
class MLPConfig:
    in_dim: int = PER_STORE
    hidden: int = 256
    head_hidden: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-5
    epochs: int = 60
    batch: int = 128  # candidates of one task per step (all their pairs are compared)
    regression_weight: float = 0.1
    update_epochs: int = 10  # epochs over a task's data after an online update
    seed: int = 0


def _network(cfg: MLPConfig):
    import torch
    from torch import nn

    class SegmentSumMLP(nn.Module):
        def __init__(self):
            super().__init__()
            # Feature standardization (saved with the weights): TVM's features mix 0/1 flags with
            # log-scaled counts up to ~30, which an MLP fits poorly unscaled.
            self.register_buffer("mean", torch.zeros(cfg.in_dim))
            self.register_buffer("std", torch.ones(cfg.in_dim))
            self.encoder = nn.Sequential(
                nn.Linear(cfg.in_dim, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU()
            )
            self.head = nn.Sequential(nn.Linear(cfg.hidden, cfg.head_hidden), nn.ReLU(), nn.Linear(cfg.head_hidden, 1))

        def forward(self, rows: torch.Tensor, segment: torch.Tensor, n: int) -> torch.Tensor:
            rows = (rows - self.mean) / self.std
            pooled = torch.zeros(n, cfg.hidden, dtype=rows.dtype).index_add_(0, segment, self.encoder(rows))
            return self.head(pooled).squeeze(-1)

    return SegmentSumMLP()


def _init_weights(net: Any, generator: Any) -> None:
    """No input scaling yet, and PyTorch's default initialisation of every Linear layer, drawn from ``generator``."""
    import math

    from torch import nn

    net.mean.zero_()
    net.std.fill_(1.0)
    for layer in net.modules():
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


def _pack(rows: Sequence[np.ndarray]):
    import torch

    segment = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    return torch.from_numpy(np.concatenate(rows)), torch.from_numpy(segment), len(rows)


class MLPCostModel(CostModel):
    name = "mlp"

    def __init__(self, config: MLPConfig | None = None, **overrides: Any):
        import torch

        self.config = dataclasses.replace(config or MLPConfig(), **overrides)
        # Built on the meta device (nn.Linear would draw from torch's global generator), then
        # initialised from a generator of its own: making a model never moves anyone else's stream.
        with torch.device("meta"):
            net = _network(self.config)
        self.net = net.to_empty(device="cpu")
        _init_weights(self.net, torch.Generator().manual_seed(self.config.seed))
        self.data: dict[str, TaskData] = {}
        self.slowest: dict[str, float] = {}  # per task, its slowest successful latency (learnable)
        self.pretrained = False  # fitted or loaded: its input scaling stays as trained
        self._opt = None

    def _optimizer(self):
        import torch

        if self._opt is None:
            self._opt = torch.optim.Adam(
                self.net.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay
            )
        return self._opt

    def fit(self, data: Sequence[TaskData]) -> dict:
        check_trainable(data)
        self.data = {d.name: d for d in data}
        self._standardize_from(self.data.values())
        self.pretrained = True
        losses = self._train(list(self.data.values()), self.config.epochs)
        return {"loss_first_epoch": losses[0], "loss_last_epoch": losses[-1], "epochs": len(losses)}

    def update(
        self,
        spaces: DesignSpaces,
        candidates: Sequence[tuple[int, Any]],
        latencies: Sequence["float | None"],
        baseline_s: float,
    ) -> None:
        measured = self.learnable(spaces.task.name, candidates, latencies)
        if measured:
            self.update_data(task_data(spaces, [(s, d, lat) for (s, d), lat in measured], baseline_s))

    def learnable(
        self, task: str, items: Sequence[Any], latencies: Sequence["float | None"]
    ) -> list[tuple[Any, float]]:
        """(item, latency to learn) for a batch of ``task``: a failed one (None) at ``FAILED_SLOWDOWN``
        times the slowest success the task has measured (this batch's noted first); failures before
        any success are left out, with nothing to rank them below."""
        slowest = max([*(lat for lat in latencies if lat), self.slowest.get(task, 0.0)])
        if slowest:
            self.slowest[task] = slowest
        return [(item, lat or FAILED_SLOWDOWN * slowest) for item, lat in zip(items, latencies) if lat or slowest]

    def update_data(self, data: TaskData) -> None:
        old = self.data.get(data.name)
        if old is not None:
            data = TaskData(data.name, old.rows + data.rows, np.concatenate([old.log_speedup, data.log_speedup]))
        self.data[data.name] = data
        if not self.pretrained:  # a fresh model scales its inputs by all it has seen so far
            self._standardize_from(self.data.values())
        if len(data) >= 2:
            self._train([data], self.config.update_epochs)

    def _standardize_from(self, data: Any) -> None:
        import torch

        rows = np.concatenate([r for d in data for r in d.rows])
        self.net.mean.copy_(torch.from_numpy(rows.mean(0)))
        self.net.std.copy_(torch.from_numpy(rows.std(0) + 1e-3))

    def ranking_loss(self, data: Sequence[TaskData]) -> float:
        """Mean training loss over the tasks' data (no update): for tests and reports."""
        import torch

        with torch.no_grad():
            return float(np.mean([self._loss(d.rows, d.log_speedup).item() for d in data if len(d) >= 2]))

    def _loss(self, rows: Sequence[np.ndarray], y: np.ndarray):
        import torch
        import torch.nn.functional as F

        pred = self.net(*_pack(rows))
        target = torch.from_numpy(np.asarray(y, np.float32))
        diff_t = target[:, None] - target[None, :]
        diff_p = pred[:, None] - pred[None, :]
        pairs = diff_t > 1e-6  # i truly faster than j
        rank = F.softplus(-diff_p[pairs]).mean() if pairs.any() else pred.sum() * 0
        return rank + self.config.regression_weight * F.mse_loss(pred, target)

    def _train(self, data: list[TaskData], epochs: int) -> list[float]:
        rng = random.Random(self.config.seed)
        opt = self._optimizer()
        self.net.train()
        losses = []
        for _ in range(epochs):
            batches = []
            for d in data:
                order = list(range(len(d)))
                rng.shuffle(order)
                batches += [(d, order[i : i + self.config.batch]) for i in range(0, len(order), self.config.batch)]
            rng.shuffle(batches)
            total = 0.0
            for d, idx in batches:
                if len(idx) < 2:
                    continue
                loss = self._loss([d.rows[i] for i in idx], d.log_speedup[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item()
            losses.append(total / max(1, len(batches)))
        self.net.eval()
        return losses

    def predict(self, spaces: DesignSpaces, candidates: Sequence[tuple[int, Any]]) -> np.ndarray:
        return scores(final_programs(spaces, candidates), lambda valid: self.predict_rows(feature_rows(spaces, valid)))

    def predict_rows(self, rows: Sequence[np.ndarray]) -> np.ndarray:
        """Predicted log speedups of programs given their per-store feature rows."""
        import torch

        if not rows:
            return np.zeros(0)
        with torch.no_grad():
            return self.net(*_pack(rows)).numpy()

    def save(self, path: "str | Path") -> None:
        """A torch state dict and the config (no pickled objects): ``MLPCostModel.load(path)``."""
        import torch

        torch.save(
            {
                "format": "msgym-mlp-cost-model/2",
                "config": dataclasses.asdict(self.config),
                "state_dict": self.net.state_dict(),
            },
            str(path),
        )

    @classmethod
    def load(cls, path: "str | Path") -> "MLPCostModel":
        import torch

        if not Path(path).is_file():
            raise CostModelError(f"no saved MLP cost model at {path} (make one with msgym costmodel train --save)")
        try:
            saved = torch.load(str(path), weights_only=True)
        except Exception as err:
            raise CostModelError(f"{path} is not a saved MLP cost model: {err}") from err
        if not isinstance(saved, dict) or saved.get("format") != "msgym-mlp-cost-model/2":
            raise CostModelError(f"{path} is not a saved msgym MLP cost model (format msgym-mlp-cost-model/2)")
        model = cls(MLPConfig(**saved["config"]))
        model.net.load_state_dict(saved["state_dict"])
        model.net.eval()
        model.pretrained = True
        return model
