"""What the extended space's decisions are worth on top of the default space's best (issue 15).

For each task, the best default-space candidates of a bench JSON (``bench_extended.py``'s default
runs) are carried into the extended space unchanged (``from_default``: the same program), then
every combination of the new decisions is measured around each: weights packed or not x 4 parallel
granularities x 4 vector widths (32 programs per candidate, its tiles and unroll kept). The best of
them and the original are then re-timed in interleaved passes with PyTorch eager's kernel::

    python experiments/extended_neighbourhood.py --bench experiments/results/extended_space.json \
        --json experiments/results/extended_neighbourhood.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import write_json  # noqa: E402

from msgym._tvm import host_cpu  # noqa: E402
from msgym.commands.references import pytorch_timers  # noqa: E402
from msgym.envs.outcome import measure_candidates  # noqa: E402
from msgym.extended_space import JOBS_PER_CORE, VECTOR_LANES, from_default, root_decisions  # noqa: E402
from msgym.measure import Measurer  # noqa: E402
from msgym.search import command_line  # noqa: E402
from msgym.search.verify import candidate_key, verify_candidates  # noqa: E402
from msgym.space import design_spaces  # noqa: E402
from msgym.tasks import get_task  # noqa: E402


def neighbours(extended, n_default: int, space: int, decisions: list) -> list[tuple[int, list]]:
    """The candidate in the extended space with every packing x parallel x vector choice."""
    base_space, base = from_default(extended, space, decisions)
    at = root_decisions(extended, base_space)
    out = []
    for packed, jobs, lanes in itertools.product((False, True), range(len(JOBS_PER_CORE)), range(len(VECTOR_LANES))):
        cand = list(base)
        cand[at["parallel"]], cand[at["vector"]] = jobs, lanes
        out.append((base_space + (n_default if packed else 0), cand))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bench", required=True, help="a bench_extended.py JSON (its default-space runs)")
    p.add_argument("--per-task", type=int, default=2, help="default-space candidates to start from, per task")
    p.add_argument("--verify-rounds", type=int, default=3)
    p.add_argument("--json", required=True)
    args = p.parse_args()
    bench = json.loads(Path(args.bench).read_text())
    start = time.perf_counter()
    out = {"command": command_line(), "machine": f"mcpu={host_cpu()}", "tasks": {}}
    with Measurer(store=None) as measurer:
        for name in dict.fromkeys(r["task"] for r in bench["runs"]):
            default_task, task = get_task(name), get_task(name, space="extended")
            n_default = len(design_spaces(default_task))
            spaces = design_spaces(task)
            seeds = sorted(
                (
                    c
                    for r in bench["runs"]
                    if r["task"] == name and r["space_kind"] == "default"
                    for c in r["top_candidates"]
                ),
                key=lambda c: c["latency_s"],
            )[: args.per_task]
            tried = []
            for cand in seeds:
                around = neighbours(spaces, n_default, cand["space"], cand["decisions"])
                results = measure_candidates(measurer, spaces, around)
                tried += [(c, r.latency_s) for c, r in zip(around, results) if r.ok]
            best = min(tried, key=lambda t: t[1])[0]
            originals = [{"space": c["space"], "decisions": c["decisions"]} for c in seeds]
            best_cand = {"space": best[0], "decisions": best[1], "space_kind": "extended"}
            extra = pytorch_timers(measurer)(default_task)
            verdicts = verify_candidates(
                default_task, [*originals, best_cand], measurer, args.verify_rounds, extra=extra
            )
            flops = default_task.flops
            gf = {k: flops / v["latency_s"] / 1e9 for k, v in verdicts.items() if v["latency_s"]}
            original_best = max(gf[candidate_key(c)] for c in originals)
            best_key = candidate_key(best_cand)
            out["tasks"][name] = {
                "default_best_verified_gflops": original_best,
                "extended_best_verified_gflops": gf[best_key],
                "extended_over_default": gf[best_key] / original_best,
                "extended_best": {
                    "packed": best[0] >= n_default,
                    "jobs_per_core": JOBS_PER_CORE[best[1][root_decisions(spaces, best[0])["parallel"]]],
                    "vector_lanes": VECTOR_LANES[best[1][root_decisions(spaces, best[0])["vector"]]],
                },
                "pytorch_eager_gflops": gf.get("pytorch_eager"),
                "measured": len(tried),
                "verdicts": verdicts,
            }
            print(name, json.dumps({k: v for k, v in out["tasks"][name].items() if k != "verdicts"}), flush=True)
    out["wall_s"] = time.perf_counter() - start
    write_json(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
