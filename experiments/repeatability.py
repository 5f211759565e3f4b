"""Does a bench verdict repeat? Two bench JSONs of the same command, run one after the other.

Per agent: the geometric mean over tasks of the mean verified GFLOPS, in each run, and their ratio
(target: within +-3%); the agents' order in each run, and whether any order that either run's
intervals separate is reversed in the other. Measurement noise is told apart from search
divergence: for the (task, agent, seed) runs whose best candidate is the same in both benches, the
ratio of the two verified latencies is pure re-timing noise; the rest also searched differently
(agents whose proposals depend on measured values).

    python experiments/repeatability.py experiments/results/repeat_a.json experiments/results/repeat_b.json \
        --json experiments/results/repeatability.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from common import emit

from msgym.commands.bench import summarize
from msgym.stats import separated


def order(geo: dict) -> list[str]:
    return sorted(geo, key=lambda a: -geo[a]["verified_gflops"])


def reversals(a: dict, b: dict) -> list[str]:
    """Pairs (x above y) separated by one run's intervals whose order the other run reverses."""
    out = []
    for first, second in ((a, b), (b, a)):
        for x in first:
            for y in first:
                if x != y and separated(first[x]["verified_gflops_ci95"], first[y]["verified_gflops_ci95"]):
                    above = first[x]["verified_gflops"] > first[y]["verified_gflops"]
                    if above and second[x]["verified_gflops"] < second[y]["verified_gflops"]:
                        out.append(f"{x} > {y}")
    return sorted(set(out))


def same_candidates(a: dict, b: dict) -> dict:
    """Verified-latency ratios of runs whose best candidate is the same in both benches."""
    key = lambda r: (r["task"], r["agent"], r["seed"])  # noqa: E731
    runs_b = {key(r): r for r in b["runs"]}
    same, differ = [], 0
    for r in a["runs"]:
        other = runs_b.get(key(r))
        if not other or not r.get("top_candidates") or not other.get("top_candidates"):
            continue
        if r["top_candidates"][0]["decisions"] == other["top_candidates"][0]["decisions"]:
            same.append(other["verified_latency_s"] / r["verified_latency_s"])
        else:
            differ += 1
    return {
        "runs_same_best": len(same),
        "runs_different_best": differ,
        "same_best_latency_ratio_median": statistics.median(same) if same else None,
        "same_best_latency_ratio_range": [min(same), max(same)] if same else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    a, b = (json.load(open(p)) for p in (args.first, args.second))
    geo_a, geo_b = summarize(a)["geomean"], summarize(b)["geomean"]
    agents = [x for x in geo_a if x in geo_b]
    ratios = {x: geo_b[x]["verified_gflops"] / geo_a[x]["verified_gflops"] for x in agents}
    out = {
        "command": " ".join(["python", *sys.argv]),
        "geomean_verified_gflops": {x: [geo_a[x]["verified_gflops"], geo_b[x]["verified_gflops"]] for x in agents},
        "geomean_verified_ci95": {
            x: [geo_a[x]["verified_gflops_ci95"], geo_b[x]["verified_gflops_ci95"]] for x in agents
        },
        "ratio_second_over_first": ratios,
        "within_3_percent": {x: abs(r - 1) <= 0.03 for x, r in ratios.items()},
        "order": [order(geo_a), order(geo_b)],
        "separated_orders_reversed": reversals(geo_a, geo_b),
        "per_agent_same_candidates": {
            x: same_candidates(
                {"runs": [r for r in a["runs"] if r["agent"] == x]}, {"runs": [r for r in b["runs"] if r["agent"] == x]}
            )
            for x in agents
        },
    }
    emit(out, args.json)


if __name__ == "__main__":
    main()
