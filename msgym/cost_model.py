"""Cost models: which candidates deserve a measurement.

A cost model scores candidates of a task (higher = predicted faster) and learns from measured
ones. ``create(kind)`` makes one by short name: ``mlp`` (msgym's PyTorch model), ``xgb``
(MetaSchedule's ``XGBModel``, same features), ``none``; or loads a saved MLP from a path.

The MLP reads MetaSchedule's per-store features of a candidate's final program (one row per
buffer store, 164 numbers, already log-scaled by TVM): a per-row encoder, a sum over the program's
rows, a head (the segment-sum design of TenSet/TLP). Its output is a predicted log speedup over
the task's unscheduled program. It trains with a pairwise ranking loss within each task (RankNet:
a regression loss alone ranks poorly) plus a small regression term on the log speedup, so the
output both ranks and means something (the env's predicted reward uses it).
"""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from msgym._tvm import ms
from msgym.features import PER_STORE
from msgym.space import DesignSpaces, InvalidCandidate

KINDS = ("mlp", "xgb", "none")


class CostModelError(ValueError):
    """Bad data or a bad file for a cost model; the message says what would be valid."""


# ---------------------------------------------------------------------------------- features
def measure_candidates(spaces: DesignSpaces, candidates: Sequence[tuple[int, Any]]) -> list[Any]:
    """MetaSchedule ``MeasureCandidate``s (final programs) of (space, decisions); None if invalid."""
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    args_info = ArgInfo.from_prim_func(spaces.task.func)
    out = []
    for space, decisions in candidates:
        try:
            out.append(ms.search_strategy.MeasureCandidate(spaces.program(space, decisions), args_info))
        except InvalidCandidate:
            out.append(None)
    return out


_EXTRACTOR = None


def store_features(spaces: "DesignSpaces | Any", measure_cands: Sequence[Any]) -> list[np.ndarray]:
    """Per-store feature rows (n_stores x 164, float32) of each MeasureCandidate (zeros if None).
    ``spaces`` is the task's DesignSpaces or a MetaSchedule TuneContext of it."""
    global _EXTRACTOR
    if _EXTRACTOR is None:
        _EXTRACTOR = ms.feature_extractor.PerStoreFeature()
    context = spaces.context if isinstance(spaces, DesignSpaces) else spaces
    valid = [mc for mc in measure_cands if mc is not None]
    rows = iter(_EXTRACTOR.extract_from(context, valid)) if valid else iter(())
    return [np.asarray(next(rows).numpy(), dtype=np.float32) if mc is not None
            else np.zeros((1, PER_STORE), np.float32) for mc in measure_cands]


# ---------------------------------------------------------------------------------- data
@dataclasses.dataclass
class TaskData:
    """Measured candidates of one task: their feature rows and log speedups."""

    name: str
    rows: list[np.ndarray]
    log_speedup: np.ndarray  # log(baseline latency / latency)

    def __len__(self) -> int:
        return len(self.rows)


def task_data(spaces: DesignSpaces, measured: Sequence[tuple[int, Any, float]], baseline_s: float) -> TaskData:
    """(space, decisions, latency) of one task -> features and targets (invalid ones dropped)."""
    mcs = measure_candidates(spaces, [(s, d) for s, d, _ in measured])
    keep = [i for i, mc in enumerate(mcs) if mc is not None]
    rows = store_features(spaces, [mcs[i] for i in keep])
    y = np.array([math.log(baseline_s / measured[i][2]) for i in keep], dtype=np.float32)
    return TaskData(spaces.task.name, rows, y)


def check_trainable(data: Sequence[TaskData]) -> None:
    if not any(len(d) >= 2 for d in data):
        sizes = ", ".join(f"{d.name}: {len(d)}" for d in data) or "no tasks"
        raise CostModelError(
            f"a cost model needs at least 2 successful measurements of one task to learn a ranking; got {sizes}. "
            "Measure some first (msgym collect --tasks ... --per-task N)")


# ---------------------------------------------------------------------------------- interface
class CostModel:
    """Scores candidates of a task (higher = predicted faster) and learns from measurements."""

    name = "base"

    def update(self, spaces: DesignSpaces, candidates: Sequence[tuple[int, Any]],
               latencies: Sequence["float | None"], baseline_s: float) -> None:
        """Learn from measured (space, decisions) of one task; a None latency is a failed one."""
        raise NotImplementedError

    def predict(self, spaces: DesignSpaces, candidates: Sequence[tuple[int, Any]]) -> np.ndarray:
        """Scores of (space, decisions) candidates; an invalid candidate scores -inf."""
        raise NotImplementedError


def create(kind: "str | CostModel | None", **kwargs: Any) -> "CostModel | None":
    """``mlp``, ``xgb``, ``none`` (None), a path to a saved MLP, or a model itself."""
    if kind is None or isinstance(kind, CostModel):
        return kind
    if kind == "none":
        return None
    if kind == "mlp":
        return MLPCostModel(**kwargs)
    if kind == "xgb":
        return XGBCostModel(**kwargs)
    validate(kind)
    return MLPCostModel.load(kind)


# ---------------------------------------------------------------------------------- the MLP
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
            self.encoder = nn.Sequential(nn.Linear(cfg.in_dim, cfg.hidden), nn.ReLU(),
                                         nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU())
            self.head = nn.Sequential(nn.Linear(cfg.hidden, cfg.head_hidden), nn.ReLU(), nn.Linear(cfg.head_hidden, 1))

        def forward(self, rows: torch.Tensor, segment: torch.Tensor, n: int) -> torch.Tensor:
            rows = (rows - self.mean) / self.std
            pooled = torch.zeros(n, cfg.hidden, dtype=rows.dtype).index_add_(0, segment, self.encoder(rows))
            return self.head(pooled).squeeze(-1)

    return SegmentSumMLP()


def _pack(rows: Sequence[np.ndarray]):
    import torch

    segment = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    return torch.from_numpy(np.concatenate(rows)), torch.from_numpy(segment), len(rows)


class MLPCostModel(CostModel):
    name = "mlp"

    def __init__(self, config: MLPConfig | None = None, **overrides: Any):
        import torch

        self.config = dataclasses.replace(config or MLPConfig(), **overrides)
        torch.manual_seed(self.config.seed)
        self.net = _network(self.config)
        self.data: dict[str, TaskData] = {}
        self.pretrained = False  # fitted or loaded: its input scaling stays as trained
        self._opt = None

    def _optimizer(self):
        import torch

        if self._opt is None:
            self._opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        return self._opt

    def fit(self, data: Sequence[TaskData]) -> dict:
        check_trainable(data)
        self.data = {d.name: d for d in data}
        self._standardize_from(self.data.values())
        self.pretrained = True
        losses = self._train(list(self.data.values()), self.config.epochs)
        return {"loss_first_epoch": losses[0], "loss_last_epoch": losses[-1], "epochs": len(losses)}

    def update(self, spaces: DesignSpaces, candidates: Sequence[tuple[int, Any]],
               latencies: Sequence["float | None"], baseline_s: float) -> None:
        ok = [(s, d, lat) for (s, d), lat in zip(candidates, latencies) if lat]
        if ok:
            self.update_data(task_data(spaces, ok, baseline_s))

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
                batches += [(d, order[i:i + self.config.batch]) for i in range(0, len(order), self.config.batch)]
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
        return _scores(measure_candidates(spaces, candidates),
                       lambda valid: self.predict_rows(store_features(spaces, valid)))

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

        torch.save({"format": "msgym-mlp-cost-model/2", "config": dataclasses.asdict(self.config),
                    "state_dict": self.net.state_dict()}, str(path))

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


# ---------------------------------------------------------------------------------- XGBoost
class XGBCostModel(CostModel):
    """MetaSchedule's own XGBModel behind msgym's interface (it extracts the same features)."""

    name = "xgb"

    def __init__(self, **kwargs: Any):
        import os

        self.model = ms.cost_model.XGBModel(num_tuning_cores=os.cpu_count() or 1, **kwargs)

    def update(self, spaces: DesignSpaces, candidates: Sequence[tuple[int, Any]],
               latencies: Sequence["float | None"], baseline_s: float) -> None:
        mcs = measure_candidates(spaces, candidates)
        keep = [i for i, mc in enumerate(mcs) if mc is not None]
        results = [ms.runner.RunnerResult(run_secs=[float(latencies[i])] if latencies[i] else None,
                                          error_msg=None if latencies[i] else "failed") for i in keep]
        if keep:
            self.model.update(spaces.context, [mcs[i] for i in keep], results)

    def predict(self, spaces: DesignSpaces, candidates: Sequence[tuple[int, Any]]) -> np.ndarray:
        return _scores(measure_candidates(spaces, candidates), lambda valid: self.model.predict(spaces.context, valid))


def _scores(mcs: Sequence[Any], predict: Any) -> np.ndarray:
    """``predict`` over the valid MeasureCandidates; -inf for the invalid (None) ones."""
    valid = [mc for mc in mcs if mc is not None]
    scores = iter(np.asarray(predict(valid), dtype=np.float64)) if valid else iter(())
    return np.array([next(scores) if mc is not None else -np.inf for mc in mcs])


# ---------------------------------------------------------------------------------- in a search
def validate(kind: "str | CostModel | None") -> None:
    """Fail early (an agent's constructor) on a cost model that ``create`` could not make."""
    if isinstance(kind, CostModel) or kind in (None, *KINDS):
        return
    if not Path(kind).is_file():
        raise CostModelError(f"unknown cost model {kind!r}; choose one of {', '.join(KINDS)} or a saved MLP (.pt file)")


def model_filter(kind: "str | CostModel | None", context: Any, rng: random.Random, pool_factor: int
                 ) -> "ModelFilter | None":
    """The agents' ``cost_model=`` option as a ModelFilter for this search (None: no model)."""
    model = create(kind)
    return None if model is None else ModelFilter(model, context.spaces, context.baseline_s, rng, pool_factor)


class ModelFilter:
    """Predict many, measure the best: picks ``n`` of a pool of proposals by predicted score (an
    ``epsilon`` share at random, so the model also sees what it does not favour), and learns
    from every measured result. Used by the random and evolutionary agents (``cost_model=``)."""

    def __init__(self, model: CostModel, spaces: DesignSpaces, baseline_s: float, rng: random.Random,
                 pool_factor: int = 8, epsilon: float = 0.1):
        self.model, self.spaces, self.baseline_s, self.rng = model, spaces, baseline_s, rng
        self.pool_factor, self.epsilon = pool_factor, epsilon
        self.learned = 0

    def choose(self, generate: Any, n: int) -> tuple[list, set]:
        """Draw ``pool_factor * n`` proposals from ``generate(k)`` and keep ``n`` of them; returns
        (the chosen, the passed over), so an agent can let the passed-over ones come again."""
        pool = generate(n * self.pool_factor)
        chosen = self.pick(pool, n)
        return chosen, set(pool) - set(chosen)

    def pick(self, pool: list, n: int) -> list:
        if len(pool) <= n:
            return pool
        scores = self.model.predict(self.spaces, [(c.space, c.decision_list()) for c in pool])
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        n_random = sum(self.rng.random() < self.epsilon for _ in range(n))
        chosen = order[: n - n_random]
        rest = order[n - n_random:]
        chosen += self.rng.sample(rest, n_random)
        return [pool[i] for i in chosen]

    def learn(self, candidates: list, results: list) -> None:
        self.model.update(self.spaces, [(c.space, c.decision_list()) for c in candidates],
                          [r.latency_s if r.ok else None for r in results], self.baseline_s)
        self.learned += len(candidates)


# ---------------------------------------------------------------------------------- in MetaSchedule
def metaschedule_cost_model(model: "MLPCostModel", baseline_s: float) -> Any:
    """msgym's MLP as a MetaSchedule cost model (its Python extension point), for ``tune_tir``'s
    search: it learns from and scores MetaSchedule's own measure candidates."""
    from tvm.ir.utils import derived_object

    @derived_object
    class MLPForMetaSchedule(ms.cost_model.PyCostModel):
        def load(self, path: str) -> None:
            loaded = MLPCostModel.load(path)
            model.config, model.net = loaded.config, loaded.net

        def save(self, path: str) -> None:
            model.save(path)

        def update(self, context: Any, candidates: list, results: list) -> None:
            ok = [(mc, r) for mc, r in zip(candidates, results) if r.run_secs is not None and not r.error_msg]
            if not ok:
                return
            rows = store_features(context, [mc for mc, _ in ok])
            y = np.array([math.log(baseline_s / float(np.median([float(x) for x in r.run_secs]))) for _, r in ok],
                         dtype=np.float32)
            model.update_data(TaskData(str(context.task_name), rows, y))

        def predict(self, context: Any, candidates: list) -> np.ndarray:
            # MetaSchedule samples parents in proportion to their scores: give it predicted speedups (> 0).
            return np.exp(model.predict_rows(store_features(context, candidates)).astype("float64"))

    return MLPForMetaSchedule()
