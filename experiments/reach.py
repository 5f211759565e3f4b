"""How many trials each run of a bench needed to come within 1.02x (and 1.10x) of MetaSchedule's
512-trial result: issue 14's second target, on verified latencies.

    python experiments/reach.py --bench experiments/results/learned_vs_metaschedule_5seeds.json \
        --tasks gmm-512,bmm --json experiments/results/reach_ms512.json

For each task: MetaSchedule's own search runs ``--reference-trials`` trials (seed 0; kept in the JSON,
so a rerun reuses it). Each bench run's in-loop best-so-far candidates (read from its run folder's
``records.jsonl``, one per trial where the best changed) are then re-timed together with the
reference's best few, in interleaved passes (``msgym.search.verify``: the machine's states hit all
alike). A run's kernel after k trials is its in-loop best at k, as the search would return it; the
trials it needed are the first k whose verified latency is within the ratio of the reference's
verified one. In-loop latencies alone would compare measurements taken minutes or days apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from common import emit

RATIOS = (1.02, 1.10)


def best_so_far(run_dir: Path) -> list[tuple[int, dict]]:
    """(trial, candidate) at each trial (1-based) where the run's in-loop best changed."""
    out, best = [], float("inf")
    with open(run_dir / "records.jsonl") as f:
        for trial, line in enumerate(f, start=1):
            rec = json.loads(line)
            if rec.get("latency_s") and rec["latency_s"] < best:
                best = rec["latency_s"]
                cand = {"space": rec["space"], "decisions": rec["decisions"]}
                out.append((trial, {**cand, "space_kind": rec.get("space_kind", "default")}))
    return out


def find_run_dir(run_dir: str, roots: list[Path]) -> Path:
    for root in [Path("."), *roots]:
        path = root / run_dir
        if (path / "records.jsonl").exists():
            return path
    raise FileNotFoundError(f"no records.jsonl for run folder {run_dir} under . or {', '.join(map(str, roots))}")


def reference(task, trials: int, measurer, logdir: str) -> dict:
    from msgym.search import tune

    t0 = time.perf_counter()
    result = tune(task, "metaschedule", trials=trials, seed=0, measurer=measurer, remeasure=True, logdir=logdir)
    top = [{"space": r.space, "decisions": r.decisions, "space_kind": r.space_kind} for r in result.top]
    return {
        "trials": trials,
        "in_loop_latency_s": result.best.latency_s if result.best else None,
        "top_candidates": top,
        "wall_s": time.perf_counter() - t0,
        "run_dir": result.run_dir,
    }


def trials_to(points: list[tuple[int, float | None]], limit: float) -> int | None:
    """The first trial whose best-so-far, re-timed, is within ``limit`` (None: never)."""
    return next((trial for trial, lat in points if lat is not None and lat <= limit), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", required=True, help="a bench JSON whose run folders still exist")
    ap.add_argument("--tasks", required=True, help="comma-separated tasks of the bench")
    ap.add_argument("--reference-trials", type=int, default=512)
    ap.add_argument("--roots", default="/tmp", help="folders to look for relative run folders in")
    ap.add_argument("--logdir", default="/tmp/runs_reach", help="where the reference search's run folder goes")
    ap.add_argument("--rounds", type=int, default=3, help="verification passes")
    ap.add_argument("--json", help="write the figures here (and reuse its references)")
    args = ap.parse_args()

    from msgym._tvm import host_cpu
    from msgym.measure import Measurer, default_store
    from msgym.search.verify import candidate_key, verify_candidates
    from msgym.tasks import get_task

    bench = json.loads(Path(args.bench).read_text())
    previous = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else {}
    roots = [Path(r) for r in args.roots.split(",")]
    tasks = dict(previous.get("tasks", {}))  # a rerun reuses the references already run
    out = {"bench": args.bench, "cpu": host_cpu(), "reference_trials": args.reference_trials, "tasks": tasks}
    with Measurer(store=default_store()) as measurer:
        for name in args.tasks.split(","):
            task = get_task(name)
            kept = out["tasks"].get(name, {}).get("reference")
            if not kept or kept["trials"] != args.reference_trials:
                kept = reference(task, args.reference_trials, measurer, args.logdir)
                out["tasks"][name] = {"reference": kept}
                if args.json:
                    emit(out, args.json)
            runs = [r for r in bench["runs"] if r["task"] == name]
            points = {(r["agent"], r["seed"]): best_so_far(find_run_dir(r["run_dir"], roots)) for r in runs}
            cands = kept["top_candidates"] + [c for pts in points.values() for _, c in pts]
            t0 = time.perf_counter()
            verdicts = verify_candidates(task, cands, measurer, args.rounds)
            ref_s = min(verdicts[candidate_key(c)]["latency_s"] or float("inf") for c in kept["top_candidates"])
            rows = []
            for (agent, seed), pts in points.items():
                timed = [(trial, verdicts[candidate_key(c)]["latency_s"]) for trial, c in pts]
                final = timed[-1][1] if timed else None
                rows.append(
                    {
                        "agent": agent,
                        "seed": seed,
                        "improvements": timed,
                        "final_ratio": final / ref_s if final else None,
                        **{f"trials_to_{x}x": trials_to(timed, x * ref_s) for x in RATIOS},
                    }
                )
            out["tasks"][name] = {
                "reference": {**kept, "verified_latency_s": ref_s, "verified_gflops": task.gflops(ref_s)},
                "runs": rows,
                "verify_s": time.perf_counter() - t0,
            }
            if args.json:
                emit(out, args.json)
    print(table(out))


def table(out: dict) -> str:
    lines = [
        "| task | MetaSchedule 512 verified GFLOPS | agent | latency at 64 / MS-512 median (per seed) | "
        + " | ".join(f"trials to {x}x (per seed)" for x in RATIOS)
        + " |",
        "|---|---|---|---|" + "---|" * len(RATIOS),
    ]
    for name, cell in out["tasks"].items():
        if "runs" not in cell:
            continue
        for agent in dict.fromkeys(r["agent"] for r in cell["runs"]):
            rs = [r for r in cell["runs"] if r["agent"] == agent]
            ratios = ", ".join(f"{r['final_ratio']:.2f}" if r["final_ratio"] else "-" for r in rs)
            reach = [", ".join(str(r[f"trials_to_{x}x"] or "-") for r in rs) for x in RATIOS]
            median = statistics.median(r["final_ratio"] for r in rs if r["final_ratio"])
            lines.append(
                f"| {name} | {cell['reference']['verified_gflops']:.1f} | {agent} | {median:.2f} ({ratios}) | "
                + " | ".join(reach)
                + " |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
