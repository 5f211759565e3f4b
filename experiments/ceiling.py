"""How far ahead of a baseline any searcher could be on this CPU: the FMA peak over the baseline.

No kernel's floating-point rate passes the machine's peak (float32 FMA on every core the runs used,
measured by ``experiments/peak_flops.py``), so on a task where the baseline's verified kernels run
at a fraction f of the peak, no agent can be more than 1/f times faster than it. Over a set of tasks
the geometric mean of those bounds is the most any searcher's geomean ratio can be: where it is
below a target ratio (issue 14: 1.25x MetaSchedule at 64 trials), no searcher meets the target on
this machine. (A task's FLOPs count its multiply-adds as two; the few non-FMA operations of fused
tasks, a batch norm or a ReLU, are counted too, which makes the bound a little loose there.)

With ``--retime N`` the benches' best kernels (each run's best 3) are re-timed now, in N passes
interleaved with the peak loop (one call per pass, converted to the time a kernel of the task's
FLOPs would take at that rate), so the kernels and the peak meet the machine in the same state: a
verification's level moves by a few percent from one to the next, and so would a bound taken from
figures of different times.

    python experiments/ceiling.py --bench experiments/results/learned_build_drop_v2_znver5.json \\
        experiments/results/learned_build_drop_tbg_znver5.json --peak experiments/results/peak_flops_znver5.json \\
        --json experiments/results/ceiling_znver5.json
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import sys
import tempfile
from collections.abc import Callable

from common import emit
from peak_flops import compile_peak, measure

PEAK = "fma-peak"  # the peak loop's name among the timers of a re-timing


def peak_gflops(peak: dict, threads: int) -> float:
    """The measured FMA peak on ``threads`` threads (the row with that many)."""
    rows = [r for r in peak["rows"] if r["threads"] == threads]
    if not rows:
        have = sorted({r["threads"] for r in peak["rows"]})
        raise SystemExit(f"the peak file has no row for {threads} threads (it has {have}): run peak_flops.py here")
    return max(r["gflops"] for r in rows)


def bench_machine(benches: list[dict]) -> tuple[str, int]:
    """(mcpu, cores) of the benches' runs; all must share them."""
    found = {
        (json.loads(r["target"]).get("mcpu"), json.loads(r["target"]).get("num-cores"))
        for b in benches
        for r in b["runs"]
    }
    if len(found) != 1:
        raise SystemExit(f"the benches' runs were measured on several machines: {sorted(found)}")
    return found.pop()


def from_summaries(benches: list[dict], baseline: str, agent: str, top: float) -> dict[str, tuple]:
    """task -> (baseline, agent, peak) GFLOPS: the benches' own verified means, the peak file's figure."""
    out = {}
    for bench in benches:
        for task, cells in bench["summary"].items():
            if baseline in cells and agent in cells:
                out[task] = (cells[baseline]["verified_gflops_mean"], cells[agent]["verified_gflops_mean"], top)
    return out


def retimed(benches: list[dict], baseline: str, agent: str, rounds: int, peak_timer: Callable) -> dict[str, tuple]:
    """task -> (baseline, agent, peak) GFLOPS, all re-timed now in ``rounds`` interleaved passes: each
    run's best kernels (an agent's mean over its runs of each run's best) and the peak loop."""
    from msgym.measure import Measurer
    from msgym.search.verify import verify_runs

    runs = [copy.deepcopy(r) for b in benches for r in b["runs"] if r["agent"] in (baseline, agent)]
    for run in runs:
        for key in [k for k in run if k.startswith("verified_")]:
            del run[key]
    with Measurer() as measurer:
        extra = verify_runs(runs, measurer, rounds, extra=peak_timer)
    out = {}
    for task, verdicts in extra.items():
        mean = {
            a: statistics.fmean(r["verified_gflops"] for r in runs if r["task"] == task and r["agent"] == a)
            for a in (baseline, agent)
        }
        flops = next(r["flops"] for r in runs if r["task"] == task)
        out[task] = (mean[baseline], mean[agent], flops / verdicts[PEAK]["latency_s"] / 1e9)
    return out


def peak_loop(threads: int, iters: int, folder: str) -> Callable:
    """For ``verify_runs(extra=...)``: the peak loop as a timer, its rate given as the seconds a
    task's FLOPs would take at it (one value a call: the best of the loop's 5 runs)."""
    binary = compile_peak(folder)

    def for_task(task):
        return {PEAK: lambda: [task.flops / (measure(binary, threads, iters)["gflops"] * 1e9)]}

    return for_task


def ceiling(figures: dict[str, tuple], baseline: str, agent: str) -> dict:
    if not figures:
        raise SystemExit(f"no task of these benches has both {baseline} and {agent} verified")
    tasks = {
        task: {
            f"{baseline}_gflops": base,
            f"{agent}_gflops": mine,
            "peak_gflops": top,
            f"{agent}_over_{baseline}": mine / base,
            f"{baseline}_of_peak": base / top,
            "bound_over_baseline": top / base,
        }
        for task, (base, mine, top) in figures.items()
    }

    def geomean(key: str) -> float:
        return math.exp(sum(math.log(t[key]) for t in tasks.values()) / len(tasks))

    return {
        "tasks": tasks,
        f"geomean_{agent}_over_{baseline}": geomean(f"{agent}_over_{baseline}"),
        "geomean_bound_over_baseline": geomean("bound_over_baseline"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", nargs="+", required=True, help="bench JSONs (verified, with their summary)")
    parser.add_argument("--peak", required=True, help="peak_flops.py's JSON of the same machine")
    parser.add_argument("--baseline", default="metaschedule")
    parser.add_argument("--agent", default="learned")
    parser.add_argument("--retime", type=int, default=0, help="re-time kernels and peak now, in N passes (0: no)")
    parser.add_argument("--iters", type=int, default=20_000_000, help="the peak loop's length when re-timed")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    benches = [json.load(open(path)) for path in args.bench]
    peak = json.load(open(args.peak))
    mcpu, cores = bench_machine(benches)
    if f"mcpu={mcpu}" != peak["machine"]:
        raise SystemExit(f"the benches (mcpu={mcpu}) and the peak ({peak['machine']}) are not one machine")
    out = {"command": " ".join(["python", *sys.argv]), "machine": f"mcpu={mcpu}", "threads": cores}
    out.update(baseline=args.baseline, agent=args.agent, retimed_rounds=args.retime)
    if args.retime:
        with tempfile.TemporaryDirectory() as tmp:
            figures = retimed(benches, args.baseline, args.agent, args.retime, peak_loop(cores, args.iters, tmp))
    else:
        figures = from_summaries(benches, args.baseline, args.agent, peak_gflops(peak, cores))
    out.update(ceiling(figures, args.baseline, args.agent))
    emit(out, args.json)


if __name__ == "__main__":
    main()
