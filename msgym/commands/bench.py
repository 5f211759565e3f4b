"""``msgym bench``: tasks x agents x seeds under an equal trial budget, as JSON, a markdown
leaderboard and a PNG plot of best GFLOPS against trials and against wall time."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from msgym.commands.references import fast_p_summary, fast_p_table, pytorch_timers, reference_latencies
from msgym.search import AGENTS, create, parse_agent, tune
from msgym.search.verify import verify_runs
from msgym.stats import bootstrap_ci, geomean_ci, separated
from msgym.tasks import get_task
from msgym.tasks.task import gflops


def validate(
    tasks: list[str],
    agents: list[str],
    trials: int,
    seeds: int,
    agent_options: dict[str, dict] | None = None,
    target: "str | None" = None,
    space: str = "default",
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
        get_task(task, target, space)  # raises TaskError naming the known tasks (or the target's error)


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
    verify_rounds: int = 3,
    drift_every: int = 16,
    fast_p: bool = True,
    target: "str | None" = None,
    space: str = "default",
    reference_run: bool = True,
) -> dict:
    """Run every (task, agent, seed) not already in ``json_path``; the JSON is rewritten after each run,
    so an interrupted bench resumes where it stopped (runs of a different trial budget are not reused).
    Then each run's best few candidates are re-timed, interleaved, ``verify_rounds`` times (0: not).
    Every ``drift_every`` trials a reference kernel is timed; each run records the drift it saw.
    ``fast_p``: also time each task's references (``references.py``: PyTorch eager in the verification's
    passes; MetaSchedule at the same budget, one reference run per task if it is not benched) and
    report fast_1.0 and fast_0.8 against each; ``reference_run=False``: no MetaSchedule run of its own
    (fast_p against PyTorch only where metaschedule is not benched: a GPU lease is short, and that run
    takes 150-220 s a task there). ``target``: every task's (None: this CPU; ``"cuda"``:
    this GPU); ``space``: their design space (``extended``: msgym's; the metaschedule agent, the
    baseline, stays on its own)."""
    agent_options = agent_options or {}
    validate(tasks, agents, trials, seeds, agent_options, target, space)
    path = Path(json_path)
    previous = _previous(path, trials, str(get_task(tasks[0], target, space).target), space, agents, agent_options)
    done = {(r["task"], r["agent"], r["seed"]): r for r in previous.get("runs", []) + previous.get("other_runs", [])}
    # What the file holds beyond this call's runs stays in it (``other_runs``: runs this call does not ask for).
    kept = {k: previous[k] for k in ("reference_runs", "pytorch_eager") if k in previous}
    agent_options = {**previous.get("agent_options", {}), **agent_options}
    header = {"tasks": tasks, "agents": agents, "trials": trials, "seeds": seeds}
    header.update(agent_options=agent_options, space=space)
    runs = []
    for task_name in tasks:
        task = get_task(task_name, target, space)
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
                    drift_every=drift_every,
                )
                runs.append(_run_summary(task, agent, seed, result))
                _write(path, {**header, "runs": runs + list(done.values()), **kept})  # resumable from here
    out = {**header, "runs": runs, **kept}
    if done:  # runs of this JSON that this call did not ask for: kept, out of its statistics
        out["other_runs"] = list(done.values())
    if fast_p and reference_run and "metaschedule" not in agents:
        out["reference_runs"] = _reference_runs(
            tasks, trials, previous, measurer, logdir, progress, drift_every, target
        )
    pytorch = dict(previous.get("pytorch_eager", {})) if fast_p else {}
    if verify_rounds:
        extra = pytorch_timers(measurer) if fast_p else None
        say = print if progress else None  # a verification waiting out a slow spell says so
        verdicts = verify_runs(
            out["runs"] + out.get("reference_runs", []), measurer, verify_rounds, extra=extra, say=say
        )
        pytorch.update({task: v for task, v in verdicts.items() if v})
    if fast_p:
        out["pytorch_eager"] = pytorch
        out["fast_p_latencies"] = reference_latencies(out, pytorch)
        out["fast_p"] = fast_p_summary(out, out["fast_p_latencies"])
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
        "propose_s": result.propose_s,  # the agent's search and learning
        "measure_s": result.measure_s,  # building, checking, timing
        "errors": result.errors,
        "curve_best_latency_s": [None if math.isinf(x) else x for x in result.curve],
        "curve_wall_s": result.curve_wall_s,
        "flops": task.flops,
        "target": str(task.target),
        "space_kind": result.space_kind,
        "run_dir": result.run_dir,
        # The in-loop best few, re-timed at the end of the bench (verify.py).
        "top_candidates": [
            {"space": r.space, "decisions": r.decisions, "latency_s": r.latency_s, "space_kind": r.space_kind}
            for r in result.top
        ],
        # The reference kernel's drift during the run, and the trials measured while it was off.
        "drift": result.drift,
        "flagged_trials": result.flagged,
    }


def _reference_runs(
    tasks: list[str],
    trials: int,
    previous: dict,
    measurer: Any,
    logdir: Any,
    progress: bool,
    drift_every: int,
    target: "str | None",
) -> list[dict]:
    """fast_p's MetaSchedule reference where that agent is not benched: one run per task (seed 0,
    the same trial budget), kept in the JSON (a resumed bench does not run it again; one of a task
    this call does not ask for stays too)."""
    kept = {r["task"]: r for r in previous.get("reference_runs", [])}
    out = [r for name, r in kept.items() if name not in tasks]
    for name in tasks:
        if name not in kept:
            task = get_task(name, target)
            result = tune(
                task,
                "metaschedule",
                trials=trials,
                seed=0,
                logdir=logdir,
                progress=progress,
                remeasure=True,
                measurer=measurer,
                drift_every=drift_every,
            )
            kept[name] = _run_summary(task, "metaschedule", 0, result)
        out.append(kept[name])
    return out


def _previous(
    path: Path, trials: int, target: str, space: str, agents: list[str], agent_options: dict[str, dict]
) -> dict:
    """An earlier (possibly interrupted) bench's JSON ({} if none), to resume. One of another trial
    budget, target, design space or agent options is an error: its runs cannot join this bench's,
    and writing this bench over them would lose them."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path} exists but is not a bench JSON ({err}); move it away or pick another --json"
        ) from None
    runs = data.get("runs", []) + data.get("other_runs", []) + data.get("reference_runs", [])
    # Files written before the bench recorded its space: the space its runs searched.
    kinds = {r.get("space_kind", "default") for r in runs}
    held = {
        "trials": (data.get("trials"), trials),
        "space": (data.get("space", "extended" if "extended" in kinds else "default"), space),
        "target": (", ".join(sorted({r["target"] for r in runs if "target" in r})) or target, target),
    }
    for agent in set(agents) & {r["agent"] for r in runs}:
        held[f"options of {agent}"] = (data.get("agent_options", {}).get(agent, {}), agent_options.get(agent, {}))
    wrong = [f"{what} {old!r} (this call: {new!r})" for what, (old, new) in held.items() if old != new]
    if wrong:
        raise ValueError(
            f"{path} holds a bench of {'; '.join(wrong)}: its runs cannot be resumed by this one, and "
            "writing over them would lose them; resume it with the same settings, or pick another --json"
        )
    return data


def _write(path: Path, out: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(path)


def summarize(out: dict) -> dict:
    """Per (task, agent): mean best GFLOPS over seeds and its 95% bootstrap interval
    (``summary[task][agent]``: ``gflops_mean``, ``gflops_ci95`` as [low, high], ``seeds``, and the
    same for the verified GFLOPS, ``verified_gflops_mean`` / ``verified_gflops_ci95``, once every
    run is verified); per agent: the geometric mean over tasks with its interval (``geomean[agent]``:
    ``gflops``, ``gflops_ci95``, ``verified_gflops``, ``verified_gflops_ci95``, ``tasks``)."""
    summary: dict[str, dict] = {}
    per_agent: dict[str, dict[str, list[list[float]]]] = {}
    for task in dict.fromkeys(r["task"] for r in out["runs"]):
        for agent in out["agents"]:
            rs = [r for r in out["runs"] if r["task"] == task and r["agent"] == agent]
            if not rs:
                continue
            cell = summary.setdefault(task, {}).setdefault(agent, {"seeds": len(rs)})
            for name, key in METRICS.items():
                values = [r.get(key) for r in rs]
                if all(v is not None for v in values):
                    cell[f"{name}_mean"], cell[f"{name}_ci95"] = statistics.fmean(values), list(bootstrap_ci(values))
                    per_agent.setdefault(agent, {}).setdefault(name, []).append(values)
    geomeans: dict[str, dict] = {}
    for agent, by_metric in per_agent.items():
        geomeans[agent] = {"tasks": len(by_metric["gflops"])}
        for name, per_task in by_metric.items():
            if len(per_task) == len(by_metric["gflops"]):  # every task has it
                g, ci = geomean_ci(per_task)
                geomeans[agent].update({name: g, f"{name}_ci95": list(ci)})
    return {"summary": summary, "geomean": geomeans}


# What the statistics are of: the in-loop best, and the re-timed best (verify.py).
METRICS = {"gflops": "best_gflops", "verified_gflops": "verified_gflops"}


def _marks(ranked: list[tuple[str, list[float]]]) -> dict[str, str]:
    """ "*" on an agent whose interval lies wholly above the next-ranked agent's."""
    return {
        a: "*" if i + 1 < len(ranked) and separated(ci, ranked[i + 1][1]) else "" for i, (a, ci) in enumerate(ranked)
    }


def _cell(stats: dict, name: str) -> str:
    if f"{name}_mean" not in stats and name not in stats:
        return "-"
    value = stats.get(f"{name}_mean", stats.get(name))
    lo, hi = stats[f"{name}_ci95"]
    return f"{value:.2f} [{lo:.2f}, {hi:.2f}]"


def _spell_note(task_runs: list[dict]) -> list[str]:
    """A line under a task whose verification was done again, or stayed slow (verify.py's slow spells)."""
    attempts = max((r.get("verified_attempts") or 0 for r in task_runs), default=0)
    levels = [r["verified_slowdown"] for r in task_runs if r.get("verified_slowdown") is not None]
    if attempts <= 1 or not levels:
        return []
    return [
        f"Verified {attempts} times: the kernels re-timed slower than in the loop (a slow spell of the machine); "
        f"kept the least slow try, {max(levels):.2f}x the loop's latencies (median).",
        "",
    ]


def leaderboard(out: dict) -> str:
    """Per task, agents ranked by mean verified GFLOPS over seeds (the in-loop best where runs are
    not verified), with 95% bootstrap intervals (``*``: separated from the next agent's); also the
    in-loop best and the best at equal wall time (the mean wall time of the task's fastest agent);
    then the geometric mean over tasks."""
    stats = summarize(out)
    verified = all(r.get("verified_gflops") is not None for r in out["runs"])
    rank_by = "verified_gflops" if verified else "gflops"
    lines = [
        f"# msgym bench: {out['trials']} trials, {out['seeds']} seed(s)",
        "",
        "GFLOPS: mean over seeds [95% bootstrap interval]; * marks an agent whose interval lies above the next "
        "agent's (a difference larger than the noise). Verified: each run's best few candidates re-timed at the "
        f"end, interleaved with the other runs' (ranked by {'verified' if verified else 'in-loop'} GFLOPS).",
        "",
    ]
    for task in sorted(stats["summary"]):
        by_agent = {
            a: [r for r in out["runs"] if r["task"] == task and r["agent"] == a] for a in stats["summary"][task]
        }
        wall = min(statistics.fmean(r["wall_s"] for r in rs) for rs in by_agent.values())
        cells = stats["summary"][task]
        ranked = sorted(cells, key=lambda a: -cells[a][f"{rank_by}_mean"])
        marks = _marks([(a, cells[a][f"{rank_by}_ci95"]) for a in ranked])
        lines += [
            f"## {task}",
            "",
            f"| rank | agent | verified GFLOPS | in-loop best GFLOPS | best GFLOPS at {wall:.0f} s | "
            "best latency ms (mean) | trials (mean) | wall s (mean) | errors |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for rank, agent in enumerate(ranked, 1):
            rs = by_agent[agent]
            lat = [r["best_latency_s"] * 1e3 for r in rs if r["best_latency_s"]]
            at_wall = statistics.fmean(best_gflops(r, wall_s=wall) for r in rs)
            lat_ms = statistics.fmean(lat) if lat else float("nan")
            trials, wall_s = statistics.fmean(r["trials"] for r in rs), statistics.fmean(r["wall_s"] for r in rs)
            lines.append(
                f"| {rank} | {agent}{marks[agent]} | {_cell(cells[agent], 'verified_gflops')} | "
                f"{_cell(cells[agent], 'gflops')} | {at_wall:.2f} | {lat_ms:.3f} | {trials:.1f} | {wall_s:.1f} | "
                f"{sum(r['errors'] for r in rs)} |"
            )
        lines.append("")
        lines += _spell_note([r for rs in by_agent.values() for r in rs])
    geo = stats["geomean"]
    ranked_g = sorted((a for a in geo if rank_by in geo[a]), key=lambda a: -geo[a][rank_by])
    marks = _marks([(a, geo[a][f"{rank_by}_ci95"]) for a in ranked_g])
    lines += [
        "## geometric mean over tasks",
        "",
        "| rank | agent | verified GFLOPS (geomean) | in-loop best GFLOPS (geomean) | tasks |",
        "|---|---|---|---|---|",
    ]
    for rank, agent in enumerate(ranked_g, 1):
        g = geo[agent]
        lines.append(
            f"| {rank} | {agent}{marks[agent]} | {_cell(g, 'verified_gflops')} | {_cell(g, 'gflops')} | {g['tasks']} |"
        )
    lines.append("")
    lines += fast_p_table(out)
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
