"""Where a search's build time goes: the build seconds of one task's candidates, from the measurement
store, by the value of one decision, and per agent over the candidates its runs measured.

    python experiments/build_cost.py --task TBG/0 --decision 5 --runs 'runs_z5l/TBG_0__*' --json out.json

Why: on TBG/0 the learned agent's runs took 2.6x (one evolution) to ~10x (one per design space)
MetaSchedule's wall time for the same 64 trials, and the time went to builds, not to the search
(BENCHMARKS.md, "Issue 14 on the Zen 5"). No measurement here: it reads what the store recorded
(every candidate's ``build_s``), so it costs seconds. A candidate measured several times (a
verification re-times it) counts once, at its median build time.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import statistics
import sys
import time
from pathlib import Path

from common import emit, quantile

from msgym.search.verify import candidate_key


def store_builds(store: Path, task: str) -> dict[str, float]:
    """Median build seconds per candidate (its ``verify.candidate_key``) of ``task`` in the store."""
    builds: dict[str, list[float]] = collections.defaultdict(list)
    with open(store) as f:
        for line in f:
            if f'"task":"{task}"' not in line:  # skip the json parse of other tasks' records
                continue
            rec = json.loads(line)
            build_s = (rec.get("result") or {}).get("build_s") or 0.0
            if rec.get("task") == task and rec.get("space") is not None and build_s > 0:
                builds[candidate_key(rec)].append(build_s)
    return {key: statistics.median(xs) for key, xs in builds.items()}


def summary(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {
        "n": len(xs),
        "median_s": statistics.median(xs) if xs else None,
        "p90_s": quantile(xs, 0.9),
        "mean_s": statistics.fmean(xs) if xs else None,
        "total_s": sum(xs),
    }


def by_decision(builds: dict[str, float], index: int) -> dict[str, dict]:
    groups: dict[str, list[float]] = collections.defaultdict(list)
    for key, build_s in builds.items():
        decisions = json.loads(key)[1]
        if index < len(decisions):
            groups[json.dumps(decisions[index])].append(build_s)
    return {value: summary(xs) for value, xs in sorted(groups.items())}


def by_agent(builds: dict[str, float], run_dirs: list[Path], index: int) -> dict[str, dict]:
    """Per agent: the build seconds of the candidates its runs measured, in all and by the value of
    decision ``index`` it picked (what an agent's preferences cost in builds)."""
    seen: dict[str, list[float]] = collections.defaultdict(list)
    picks: dict[str, dict[str, list[float]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    for run in run_dirs:
        agent = json.loads((run / "config.json").read_text())["agent"]
        for line in (run / "records.jsonl").read_text().splitlines():
            rec = json.loads(line)
            key = candidate_key(rec)
            if key not in builds:
                continue
            seen[agent].append(builds[key])
            if index < len(rec["decisions"]):
                picks[agent][json.dumps(rec["decisions"][index])].append(builds[key])
    return {
        agent: {**summary(seen[agent]), "by_decision": {v: summary(xs) for v, xs in sorted(picks[agent].items())}}
        for agent in sorted(seen)
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", required=True)
    ap.add_argument("--decision", type=int, default=None, help="group the task's candidates by this decision")
    ap.add_argument("--runs", default="", help="comma-separated globs of run folders of the task")
    ap.add_argument("--store", default=None, help="records.jsonl (default: msgym's measurement store)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from msgym._tvm import host_cpu
    from msgym.measure import default_store

    store = Path(args.store) if args.store else default_store()
    builds = store_builds(store, args.task)
    if not builds:
        sys.exit(f"no build times of task {args.task!r} in {store}")
    found = {Path(p) for pattern in args.runs.split(",") if pattern for p in glob.glob(pattern)}
    run_dirs = sorted(p for p in found if (p / "records.jsonl").exists())
    out = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"mcpu={host_cpu()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "task": args.task,
        "all": summary(list(builds.values())),
    }
    if args.decision is not None:
        out["decision"] = args.decision
        out["by_decision"] = by_decision(builds, args.decision)
    if run_dirs:
        out["runs"] = len(run_dirs)
        out["by_agent"] = by_agent(builds, run_dirs, args.decision if args.decision is not None else -1)
    emit(out, args.json)


if __name__ == "__main__":
    main()
