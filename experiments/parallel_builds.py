"""Two builds at once between runs, against one: the same candidates measured by a measurer with one
build worker and one with two, batch by batch in turn (so the machine's minute hits both alike).

    python experiments/parallel_builds.py --runs 'runs_z5l/TBG_0__learned__seed0__*' --json out.json
    python experiments/parallel_builds.py --builders 1,1 ...   # the control: how far two alike agree

The candidates: what the given run folders measured (their ``records.jsonl``), in order, ``--batch``
at a time as the search loop measures them (``msgym.search.loop.CPU_BATCH``). Reported per
measurer: wall seconds per candidate, build seconds per candidate, and the ratio of the two
measurers' latencies of each candidate (runs never overlap a build in either, so the latencies
should agree within the machine's noise). Why: ``Measurer._build_slots``.
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
import sys
import time
from pathlib import Path

from common import emit, quantile

from msgym.search.verify import candidate_key


def candidates(patterns: str) -> tuple[str, list[tuple[int, list]]]:
    """The task and the distinct (space, decisions) the run folders measured, in order."""
    task, seen = None, {}
    for pattern in patterns.split(","):
        for run in sorted(glob.glob(pattern)):
            for line in Path(run, "records.jsonl").read_text().splitlines():
                rec = json.loads(line)
                if rec.get("space_kind", "default") != "default":
                    sys.exit(f"{run}: only the default design space is supported here")
                task = task or rec["task"]
                seen.setdefault(candidate_key(rec), None)
    if task is None:
        sys.exit(f"no records.jsonl under {patterns}")
    return task, [tuple(json.loads(key)) for key in seen]


def spread(ratios: list[float]) -> dict:
    median = statistics.median(ratios) if ratios else None
    return {"median": median, "p10": quantile(ratios, 0.1), "p90": quantile(ratios, 0.9), "n": len(ratios)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", required=True, help="comma-separated globs of run folders of one task")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--builders", default="1,2", help="the two measurers' build workers, A,B")
    ap.add_argument("--limit", type=int, default=64, help="at most this many candidates")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from msgym._tvm import host_cpu
    from msgym.envs.outcome import measure_candidates
    from msgym.measure import Measurer, TimingConfig
    from msgym.space import design_spaces
    from msgym.tasks import get_task

    task_name, cands = candidates(args.runs)
    cands = cands[: args.limit]
    task = get_task(task_name)
    spaces = design_spaces(task)
    counts = [int(x) for x in args.builders.split(",")]
    if len(counts) != 2 or min(counts) < 1:
        sys.exit(f"--builders takes two counts >= 1, e.g. 1,2; got {args.builders!r}")
    measurers = {name: Measurer(overlap=False, builders=n) for name, n in zip("AB", counts)}
    wall = {name: 0.0 for name in measurers}
    results: dict[str, list] = {name: [] for name in measurers}
    try:
        for m in measurers.values():
            m.baseline(task)  # the workers are up, the reference known
        for start in range(0, len(cands), args.batch):
            batch = cands[start : start + args.batch]
            order = list(measurers) if (start // args.batch) % 2 == 0 else list(reversed(measurers))
            for name in order:
                t0 = time.perf_counter()
                results[name] += measure_candidates(measurers[name], spaces, batch, remeasure=True)
                wall[name] += time.perf_counter() - t0
    finally:
        for m in measurers.values():
            m.close()
    both_ok = [(a, b) for a, b in zip(results["A"], results["B"]) if a.ok and b.ok]
    ratios = [b.latency_s / a.latency_s for a, b in both_ok]
    best = min((min(a.latency_s, b.latency_s) for a, b in both_ok), default=None)
    # contenders in both (within ``contender_ratio`` of the best), so timed alike: 5 to 15 repeats
    ratio = TimingConfig().contender_ratio
    near = [b.latency_s / a.latency_s for a, b in both_ok if max(a.latency_s, b.latency_s) <= ratio * best]
    out = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"mcpu={host_cpu()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "task": task_name,
        "candidates": len(cands),
        "batch": args.batch,
        "measurers": {
            name: {
                "builders": n,
                "wall_s_per_candidate": wall[name] / len(cands),
                "build_s_per_candidate": statistics.fmean(r.build_s for r in results[name]),
                "errors": sum(not r.ok for r in results[name]),
                "latencies_s": [r.latency_s for r in results[name]],
            }
            for (name, n) in zip("AB", counts)
        },
        "wall_ratio_b_over_a": wall["B"] / wall["A"],
        "latency_ratio_b_over_a": spread(ratios),
        "latency_ratio_b_over_a_contenders": spread(near),
    }
    emit(out, args.json)


if __name__ == "__main__":
    main()
