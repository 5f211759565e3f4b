"""``msgym eval``: a trained policy on unseen tasks, against the other agents at the same budget.

Every agent (the trained policy as ``ppo-pretrained``, an untrained ``ppo``, ``random``,
``evolutionary``, ``metaschedule``) gets the same K measured trials per task and seed, in one
run (``msgym bench`` underneath: same JSON, resumable). The summary gives best GFLOPS after 1,
10 and K trials and the wall time, and, with ``reference_trials``, how many measurements each
agent needed to come within 1.10x of MetaSchedule's best latency after ``reference_trials``
trials (computed once per task and target, cached with the command that made it).
"""

from __future__ import annotations

import datetime
import json
import statistics
from pathlib import Path
from typing import Any

from msgym.commands import bench
from msgym.measure import cache_dir
from msgym.search import command_line, tune
from msgym.tasks import get_task
from msgym.tasks.sets import resolve

EVAL_AGENTS = ["ppo-pretrained", "ppo", "random", "evolutionary", "metaschedule"]  # the default comparison
WITHIN = 1.10


def run(
    policy: str | None,
    tasks: "str | list[str]",
    trials: int,
    seeds: int,
    logdir: str | None,
    json_path: str,
    measurer: Any,
    reference_trials: int = 0,
    agents: list[str] | None = None,
    progress: bool = True,
    agent_options: dict[str, dict] | None = None,
    trust_policy: bool = False,
    verify_rounds: int = 3,
    target: "str | None" = None,
    space: str = "default",
) -> dict:
    """``trust_policy``: load ``policy`` even if msgym did not write it here (it runs code when loaded).
    ``verify_rounds``: each run's best few re-timed at the end, interleaved (bench's verification).
    ``target``: every task's (None: this CPU; ``"cuda"``: this GPU)."""
    names = resolve(tasks)
    agents = agents or EVAL_AGENTS
    options = {agent: dict(opts) for agent, opts in (agent_options or {}).items()}
    if policy and "ppo-pretrained" in agents:
        options.setdefault("ppo-pretrained", {})["policy"] = policy
        if trust_policy:
            options["ppo-pretrained"]["trust_policy"] = True
    out = bench.run(
        names,
        agents,
        trials,
        seeds,
        logdir,
        json_path,
        measurer,
        progress=progress,
        agent_options=options,
        verify_rounds=verify_rounds,
        target=target,
        space=space,
    )
    refs = (
        {name: metaschedule_best(name, reference_trials, measurer, progress, target) for name in names}
        if reference_trials
        else {}
    )
    out["policy"] = policy or "shipped"
    out["references"] = refs
    for task, rows in summarize(out, refs).items():  # beside bench's statistics of the same runs
        for agent, row in rows.items():
            out["summary"][task][agent].update(row)
    Path(json_path).write_text(json.dumps(out, indent=1))
    Path(json_path).with_suffix(".md").write_text(table(out))
    return out


def summarize(out: dict, refs: dict) -> dict:
    ks = sorted({1, 10, out["trials"]})
    summary: dict[str, Any] = {}
    for task in dict.fromkeys(r["task"] for r in out["runs"]):
        for agent in out["agents"]:
            rs = [r for r in out["runs"] if r["task"] == task and r["agent"] == agent]
            row = {f"gflops_at_{k}": statistics.fmean(bench.best_gflops(r, trials=k) for r in rs) for k in ks}
            row["wall_s"] = statistics.fmean(r["wall_s"] for r in rs)
            if task in refs:
                need = [_trials_to_reach(r, WITHIN * refs[task]["best_latency_s"]) for r in rs]
                row[f"trials_to_{WITHIN}x_reference"] = need  # None: not within the budget
            summary.setdefault(task, {})[agent] = row
    return summary


def table(out: dict) -> str:
    ks = sorted({1, 10, out["trials"]})
    lines = [f"# msgym eval: policy {out.get('policy')}, {out['trials']} trials, {out['seeds']} seed(s)", ""]
    for task, agents in out["summary"].items():
        ref = out["references"].get(task)
        head = f"## {task}" + (
            f" (MetaSchedule's best after {ref['trials']} trials: {ref['best_gflops']:.1f} GFLOPS)" if ref else ""
        )
        cols = [f"GFLOPS after {k}" for k in ks] + ["wall s"] + ([f"trials to {WITHIN}x reference"] if ref else [])
        lines += [head, "", "| agent | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for agent, row in agents.items():
            cells = [f"{row[f'gflops_at_{k}']:.1f}" for k in ks] + [f"{row['wall_s']:.0f}"]
            if ref:
                cells.append(", ".join("-" if n is None else str(n) for n in row[f"trials_to_{WITHIN}x_reference"]))
            lines.append(f"| {agent} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def metaschedule_best(
    name: str, trials: int, measurer: Any, progress: bool = True, target: "str | None" = None
) -> dict:
    """MetaSchedule's best after ``trials`` trials on a task (the eval's reference point, not to be
    confused with the measurer's reference outputs): cached per task, target and the CPU threads its
    kernels ran on (a best found on one thread, before msgym set TVM's pool, is no reference for two)."""
    from msgym.measure.worker import kernel_threads

    task = get_task(name, target)
    path = cache_dir() / "references.json"
    cached = json.loads(path.read_text()) if path.exists() else {}
    threads = kernel_threads(task.target)
    key = f"{task.key}|metaschedule|{trials}|threads={threads}"
    if key not in cached:
        result = tune(task, "metaschedule", trials=trials, seed=0, progress=progress, measurer=measurer)
        if result.best is None:
            raise RuntimeError(f"MetaSchedule found no valid kernel for {name} in {trials} trials")
        cached[key] = {
            "task": name,
            "trials": trials,
            "best_latency_s": result.best.latency_s,
            "best_gflops": result.best_gflops,
            "threads": threads,
            "command": command_line(),
            "date": datetime.date.today().isoformat(),
        }
        path.write_text(json.dumps(cached, indent=1))
    return cached[key]


def _trials_to_reach(run: dict, latency_s: float) -> int | None:
    for i, x in enumerate(run["curve_best_latency_s"], 1):
        if x and x <= latency_s:
            return i
    return None
