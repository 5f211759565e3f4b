"""``msgym bench``: tasks x agents x seeds under an equal trial budget, as JSON, a markdown
leaderboard and a PNG plot of best GFLOPS against trials and against wall time."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from msgym.search import AGENTS, create, parse_agent, tune
from msgym.stats import bootstrap_ci, geomean_ci, separated
from msgym.tasks import get_task
from msgym.tasks.task import gflops


def validate(
    tasks: list[str], agents: list[str], trials: int, seeds: int, agent_options: dict[str, dict] | None = None
) -> None:
    """Fail before any measurement if an argument is bad."""
    if not tasks or not agents:
        raise ValueError("give at least one task (--tasks) and one agent (--agents)")
    for agent in agents:
        if parse_agent(agent)[0] not in AGENTS:
            raise ValueError(
                f"unknown agent {agent!r}; choose from {', '.join(AGENTS)} (with options: NAME:KEY=VALUE:...)"
            )
        create(agent, **(agent_options or {}).get(agent, {}))  # raises on an unknown option, naming the known ones
    for agent in agent_options or {}:
        if agent not in agents:
            raise ValueError(f"options given for agent {agent!r}, which is not among --agents {', '.join(agents)}")
    if not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    for task in tasks:
        get_task(task)  # raises TaskError naming the known tasks


def run(
    tasks: list[str],
    agents: list[str],
    trials: int,
    seeds: int,
    logdir: str | None,
    json_path: str,
    measurer: Any,
    progress: bool = True,
    agent_options: dict[str, dict] | None = None,
) -> dict:
    """Run every (task, agent, seed) not already in ``json_path``; the JSON is rewritten after each run,
    so an interrupted bench resumes where it stopped (runs of a different trial budget are not reused)."""
    agent_options = agent_options or {}
    validate(tasks, agents, trials, seeds, agent_options)
    path = Path(json_path)
    done = {(r["task"], r["agent"], r["seed"]): r for r in _previous_runs(path, trials)}
    runs = []
    for task_name in tasks:
        task = get_task(task_name)
        for agent in agents:
            for seed in range(seeds):
                if (task.name, agent, seed) in done:
                    runs.append(done.pop((task.name, agent, seed)))
                    continue
                # Every run measures its own proposals: no agent's wall time benefits from another's.
                result = tune(
                    task,
                    agent,
                    trials=trials,
                    seed=seed,
                    logdir=logdir,
                    progress=progress,
                    remeasure=True,
                    agent_options=agent_options.get(agent),
                    measurer=measurer,
                )
                runs.append(_run_summary(task, agent, seed, result))
                _write(
                    path,
                    {
                        "tasks": tasks,
                        "agents": agents,
                        "trials": trials,
                        "seeds": seeds,
                        "agent_options": agent_options,
                        "runs": runs + list(done.values()),
                    },
                )
    out = {
        "tasks": tasks,
        "agents": agents,
        "trials": trials,
        "seeds": seeds,
        "agent_options": agent_options,
        "runs": runs,
    }
    out.update(summarize(out))
    _write(path, out)
    path.with_suffix(".md").write_text(leaderboard(out))
    plot(out, path.with_suffix(".png"))
    return out


def _run_summary(task, agent: str, seed: int, result) -> dict:
    return {
        "task": task.name,
        "agent": agent,
        "seed": seed,
        "trials": result.trials,
        "best_latency_s": result.best.latency_s if result.best else None,
        "best_gflops": result.best_gflops,
        "wall_s": result.wall_s,
        "errors": result.errors,
        "curve_best_latency_s": [None if math.isinf(x) else x for x in result.curve],
        "curve_wall_s": result.curve_wall_s,
        "flops": task.flops,
        "run_dir": result.run_dir,
    }


def _previous_runs(path: Path, trials: int) -> list[dict]:
    """Runs of an earlier (possibly interrupted) bench at the same trial budget."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path} exists but is not a bench JSON ({err}); move it away or pick another --json"
        ) from None
    return [r for r in data.get("runs", []) if data.get("trials") == trials]


def _write(path: Path, out: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(path)


def summarize(out: dict) -> dict:
    """Per (task, agent): mean best GFLOPS over seeds and its 95% bootstrap interval
    (``summary[task][agent]``: ``gflops_mean``, ``gflops_ci95`` as [low, high], ``seeds``); per agent:
    the geometric mean over tasks of those means, with its interval (``geomean[agent]``)."""
    summary: dict[str, dict] = {}
    per_agent: dict[str, list[list[float]]] = {}
    for task in dict.fromkeys(r["task"] for r in out["runs"]):
        for agent in out["agents"]:
            gf = [r["best_gflops"] for r in out["runs"] if r["task"] == task and r["agent"] == agent]
            if not gf:
                continue
            summary.setdefault(task, {})[agent] = {
                "gflops_mean": statistics.fmean(gf),
                "gflops_ci95": list(bootstrap_ci(gf)),
                "seeds": len(gf),
            }
            per_agent.setdefault(agent, []).append(gf)
    geomeans = {}
    for agent, per_task in per_agent.items():
        g, ci = geomean_ci(per_task)
        geomeans[agent] = {"gflops": g, "gflops_ci95": list(ci), "tasks": len(per_task)}
    return {"summary": summary, "geomean": geomeans}


def _marks(ranked: list[tuple[str, list[float]]]) -> dict[str, str]:
    """ "*" on an agent whose interval lies wholly above the next-ranked agent's."""
    return {
        a: "*" if i + 1 < len(ranked) and separated(ci, ranked[i + 1][1]) else "" for i, (a, ci) in enumerate(ranked)
    }


def leaderboard(out: dict) -> str:
    """Per task, agents ranked by mean best GFLOPS over seeds, with 95% bootstrap intervals (``*``:
    separated from the next agent's); also at equal wall time (the mean wall time of the task's
    fastest agent); then the geometric mean over tasks."""
    stats = summarize(out)
    lines = [
        f"# msgym bench: {out['trials']} trials, {out['seeds']} seed(s)",
        "",
        "Best GFLOPS: mean over seeds [95% bootstrap interval]; * marks an agent whose interval lies "
        "above the next agent's (a difference larger than the noise).",
        "",
    ]
    for task in sorted({r["task"] for r in out["runs"]}):
        by_agent = {a: [r for r in out["runs"] if r["task"] == task and r["agent"] == a] for a in out["agents"]}
        wall = min(statistics.fmean(r["wall_s"] for r in rs) for rs in by_agent.values())
        lines += [
            f"## {task}",
            "",
            f"| rank | agent | best GFLOPS (mean [95% CI]) | best GFLOPS at {wall:.0f} s | "
            "best latency ms (mean) | trials (mean) | wall s (mean) | errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        rows = []
        for agent, rs in by_agent.items():
            gf = [r["best_gflops"] for r in rs]
            lat = [r["best_latency_s"] * 1e3 for r in rs if r["best_latency_s"]]
            at_wall = statistics.fmean(best_gflops(r, wall_s=wall) for r in rs)
            rows.append(
                (
                    statistics.fmean(gf),
                    statistics.pstdev(gf),
                    at_wall,
                    statistics.fmean(lat) if lat else float("nan"),
                    statistics.fmean(r["trials"] for r in rs),
                    statistics.fmean(r["wall_s"] for r in rs),
                    sum(r["errors"] for r in rs),
                    agent,
                )
            )
        ranked = sorted(rows, reverse=True)
        cis = {agent: stats["summary"][task][agent]["gflops_ci95"] for *_, agent in ranked}
        marks = _marks([(agent, cis[agent]) for *_, agent in ranked])
        for rank, (gf, _sd, at_wall, lat, trials, wall_s, errors, agent) in enumerate(ranked, 1):
            lo, hi = cis[agent]
            lines.append(
                f"| {rank} | {agent}{marks[agent]} | {gf:.2f} [{lo:.2f}, {hi:.2f}] | {at_wall:.2f} | {lat:.3f} | "
                f"{trials:.1f} | {wall_s:.1f} | {errors} |"
            )
        lines.append("")
    ranked_g = sorted(stats["geomean"].items(), key=lambda kv: -kv[1]["gflops"])
    marks = _marks([(agent, g["gflops_ci95"]) for agent, g in ranked_g])
    lines += [
        "## geometric mean over tasks",
        "",
        "| rank | agent | GFLOPS (geomean [95% CI]) | tasks |",
        "|---|---|---|---|",
    ]
    for rank, (agent, g) in enumerate(ranked_g, 1):
        lo, hi = g["gflops_ci95"]
        lines.append(f"| {rank} | {agent}{marks[agent]} | {g['gflops']:.2f} [{lo:.2f}, {hi:.2f}] | {g['tasks']} |")
    lines.append("")
    return "\n".join(lines)


def best_gflops(run: dict, trials: int | None = None, wall_s: float | None = None) -> float:
    """The best GFLOPS a run had reached after its first ``trials`` trials and within ``wall_s``
    seconds of its start (either bound optional); 0 before its first valid kernel."""
    curve = zip(run["curve_best_latency_s"][:trials], run["curve_wall_s"])
    best = [lat for lat, t in curve if lat and (wall_s is None or t <= wall_s)]
    return gflops(run["flops"], min(best) if best else None)


def _mean_curve(rs: list[dict], key: str) -> list[float]:
    n = min(len(r[key]) for r in rs)
    return [statistics.fmean(r[key][i] for r in rs) for i in range(n)]


def plot(out: dict, path: Path) -> None:
    """Best GFLOPS against trials and against wall time, one row per task, mean over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in out["runs"]})
    fig, axes = plt.subplots(len(tasks), 2, figsize=(11, 3.6 * len(tasks)), squeeze=False)
    for row, task in zip(axes, tasks):
        for agent in out["agents"]:
            rs = [r for r in out["runs"] if r["task"] == task and r["agent"] == agent]
            curves = [
                {"g": [gflops(r["flops"], x) for x in r["curve_best_latency_s"]], "w": r["curve_wall_s"]} for r in rs
            ]
            g, w = _mean_curve(curves, "g"), _mean_curve(curves, "w")
            row[0].plot(range(1, len(g) + 1), g, label=agent)
            row[1].plot(w, g, label=agent)
        row[0].set(title=f"{task}: best GFLOPS vs trials", xlabel="trials", ylabel="best GFLOPS")
        row[1].set(title=f"{task}: best GFLOPS vs wall time", xlabel="wall seconds", ylabel="best GFLOPS")
        row[0].legend(fontsize="x-small", loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
