"""fast_p for a bench: how often an agent's kernel is correct and at least p times as fast as a reference.

Two references per task (KernelBench's definition, with its p = 1.0 and 0.8):

* ``pytorch_eager``: the task's PyTorch eager equivalent (``msgym.tasks.torch_reference``; built-in
  operators only), checked against the task's own output, then timed in the verification's passes,
  interleaved with the runs' candidates: on the kernels' thread count, holding the machine's run
  lock, the minimum of its repeats like every kernel. Only for the local runner (an RPC runner's
  kernels run on another machine) and never with the fake runner.
* ``metaschedule``: MetaSchedule at the same trial budget: the median verified latency of the bench's
  own ``metaschedule`` runs of the task, or, where that agent is not benched, of one reference run
  per task (seed 0, ``reference_runs`` in the JSON) verified with the others.

Every kernel msgym reports passed the output check, so a run counts as correct when it has a
verified latency (its in-loop best where verification was off).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from msgym.stats import fast_p
from msgym.tasks import Task

__all__ = ["P_VALUES", "REFERENCES", "pytorch_timers", "reference_latencies", "fast_p_summary", "fast_p_table"]

P_VALUES = (1.0, 0.8)
REFERENCES = ("pytorch_eager", "metaschedule")


def pytorch_timers(measurer: Any) -> Callable[[Task], dict[str, Callable[[], list[float]]]]:
    """For ``verify_runs(extra=...)``: a task's PyTorch eager equivalent as a timer, or none."""

    def timers(task: Task) -> dict[str, Callable[[], list[float]]]:
        if measurer.fake or str(measurer.runner) != "local":
            return {}
        from msgym._tvm import host_cores, tvm
        from msgym.measure.worker import Reference, run_lock
        from msgym.tasks.torch_reference import torch_equivalent

        ref = torch_equivalent(task, seed=measurer.timing.seed)
        if ref is None:
            return {}
        seed = measurer.timing.seed
        expected = Reference(task.program_key, tvm.ir.save_json(task.mod), str(task.target), seed).expected
        error = ref.check(expected)
        if error is not None:
            raise RuntimeError(error)
        threads = host_cores(task.target)

        def time_it() -> list[float]:
            with run_lock(measurer.runner):
                return ref.time(threads)

        return {"pytorch_eager": time_it}

    return timers


def _latency(run: dict) -> float | None:
    return run.get("verified_latency_s", run.get("best_latency_s"))


def reference_latencies(out: dict, pytorch: dict[str, dict]) -> dict[str, dict[str, float]]:
    """task -> {reference name: latency (s)}, from the PyTorch verdicts (``verify_runs``' return,
    kept in ``out["pytorch_eager"]`` across resumes) and the MetaSchedule runs."""
    refs: dict[str, dict[str, float]] = {}
    for task in dict.fromkeys(r["task"] for r in out["runs"]):
        cell = refs.setdefault(task, {})
        verdict = pytorch.get(task, {}).get("pytorch_eager")
        if verdict and verdict.get("latency_s"):
            cell["pytorch_eager"] = verdict["latency_s"]
        ms_runs = [r for r in out["runs"] if r["task"] == task and r["agent"] == "metaschedule"]
        ms_runs = ms_runs or [r for r in out.get("reference_runs", []) if r["task"] == task]
        latencies = [x for r in ms_runs if (x := _latency(r))]
        if latencies:
            cell["metaschedule"] = statistics.median(latencies)
    return refs


def fast_p_summary(out: dict, refs: dict[str, dict[str, float]]) -> dict[str, dict[str, dict]]:
    """agent -> reference -> {"fast_1.0", "fast_0.8", "runs"}: over the agent's runs (every task
    and seed) on tasks that have that reference."""
    summary: dict[str, dict[str, dict]] = {}
    for agent in out["agents"]:
        for name in REFERENCES:
            speedups = [
                (refs[r["task"]][name] / lat) if (lat := _latency(r)) else None
                for r in out["runs"]
                if r["agent"] == agent and name in refs.get(r["task"], {})
            ]
            if speedups:
                cell = {f"fast_{p}": fast_p(speedups, p) for p in P_VALUES}
                summary.setdefault(agent, {})[name] = {**cell, "runs": len(speedups)}
    return summary


def fast_p_table(out: dict) -> list[str]:
    """The leaderboard's fast_p section (markdown lines)."""
    summary = out.get("fast_p") or {}
    if not summary:
        return []
    cols = [(name, p) for name in REFERENCES for p in P_VALUES]
    lines = [
        "## fast_p (fraction of runs whose kernel is correct and at least p times as fast as the reference)",
        "",
        "| agent | " + " | ".join(f"fast_{p} vs {name}" for name, p in cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for agent, by_ref in summary.items():
        cells = [
            f"{by_ref[name][f'fast_{p}']:.2f} ({by_ref[name]['runs']} runs)" if name in by_ref else "-"
            for name, p in cols
        ]
        lines.append(f"| {agent} | " + " | ".join(cells) + " |")
    refs = out.get("fast_p_latencies", {})
    if refs:
        lines += [
            "",
            "References (ms): "
            + "; ".join(
                f"{task}: " + ", ".join(f"{name} {lat * 1e3:.3f}" for name, lat in cell.items())
                for task, cell in refs.items()
            ),
        ]
    lines.append("")
    return lines
