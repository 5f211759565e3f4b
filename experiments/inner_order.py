"""What the inner loop order is worth on the extended space's best kernels (issue 15).

For each task of a bench JSON (``bench_extended.py``), the extended runs' best candidate is re-timed
with each of the three inner loop orders (``INNER_ORDERS``; every other decision kept), in
interleaved passes with PyTorch eager's kernel, so the decision's effect is read on kernels a search
found rather than on random ones::

    python experiments/inner_order.py --bench experiments/results/extended_space_order_512.json \
        --json experiments/results/inner_order.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import write_json  # noqa: E402

from msgym._tvm import host_cpu  # noqa: E402
from msgym.commands.references import pytorch_timers  # noqa: E402
from msgym.extended_space import INNER_ORDERS, root_decisions  # noqa: E402
from msgym.measure import Measurer  # noqa: E402
from msgym.search import command_line  # noqa: E402
from msgym.search.verify import candidate_key, verify_candidates  # noqa: E402
from msgym.space import design_spaces  # noqa: E402
from msgym.tasks import get_task  # noqa: E402


def variants(spaces, space: int, decisions: list) -> dict[str, dict]:
    """The candidate with each inner loop order, by order name."""
    at = root_decisions(spaces, space)["order"]
    out = {}
    for option, order in enumerate(INNER_ORDERS):
        changed = list(decisions)
        changed[at] = option
        out[order] = {"space": space, "decisions": changed, "space_kind": "extended"}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bench", required=True, nargs="+", help="bench_extended.py JSONs (their extended runs)")
    p.add_argument("--verify-rounds", type=int, default=3)
    p.add_argument("--json", required=True)
    args = p.parse_args()
    runs = [r for path in args.bench for r in json.loads(Path(path).read_text())["runs"]]
    start = time.perf_counter()
    out = {"command": command_line(), "machine": f"mcpu={host_cpu()}", "runs": []}
    with Measurer(store=None) as measurer:
        for run in (r for r in runs if r["space_kind"] == "extended"):
            task = get_task(run["task"], space="extended")
            best = run["top_candidates"][0]
            cands = variants(design_spaces(task), best["space"], best["decisions"])
            extra = pytorch_timers(measurer)(get_task(run["task"]))
            verdicts = verify_candidates(task, list(cands.values()), measurer, args.verify_rounds, extra=extra)
            flops = task.flops
            gflops = {
                order: flops / verdicts[candidate_key({**c, "space_kind": "extended"})]["latency_s"] / 1e9
                for order, c in cands.items()
            }
            row = {
                "task": run["task"],
                "seed": run["seed"],
                "found_order": next(o for o, c in cands.items() if c["decisions"] == best["decisions"]),
                "gflops_by_order": gflops,
                "pytorch_eager_gflops": flops / verdicts["pytorch_eager"]["latency_s"] / 1e9,
                "verdicts": verdicts,
            }
            out["runs"].append(row)
            print(run["task"], run["seed"], json.dumps({k: v for k, v in row.items() if k != "verdicts"}), flush=True)
    out["wall_s"] = time.perf_counter() - start
    write_json(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
