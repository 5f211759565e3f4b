"""Which design spaces (MetaSchedule's sketches) one batch of the learned agent's search draws from:
the check behind ``LearnedSearch.PER_SKETCH`` (BENCHMARKS.md, "one evolution per design space").

    python experiments/sketch_share.py --task CBR/2 --batch 288 --single

``--single``: one evolution over all design spaces (the learned agent before ``PER_SKETCH``); else
one per design space, as the agent runs now. Prints how many of the batch each design space holds,
by rank (the model's best first), and the search's seconds. No measurement: the model scores only.
"""

from __future__ import annotations

import argparse
import collections
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="CBR/2")
    ap.add_argument("--batch", type=int, default=72, help="candidates the search is asked for")
    ap.add_argument("--single", action="store_true", help="one evolution over all design spaces")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from agents.learned import LearnedSearch
    from msgym.search import SearchContext
    from msgym.space import DesignSpaces
    from msgym.tasks import get_task

    spaces = DesignSpaces(get_task(args.task), seed=args.seed)
    agent = LearnedSearch(num_trials_per_iter=args.batch)
    agent.PER_SKETCH = not args.single
    agent.setup(SearchContext(spaces=spaces, seed=args.seed, trials=args.batch, baseline_s=1e-3))
    t0 = time.perf_counter()
    drawn = agent._draw()
    seconds = time.perf_counter() - t0
    located = [agent._locate(mc) for _, mc in drawn]
    agent.close()
    print(f"{args.task}: {len(drawn)} drawn in {seconds:.1f} s by {len(agent.contexts)} search(es)")
    step = max(1, len(drawn) // 4)
    for lo in range(0, len(drawn), step):
        part = collections.Counter(c.space if c else "not located" for c in located[lo : lo + step])
        print(f"  ranks {lo}-{min(lo + step, len(drawn)) - 1}: {dict(sorted(part.items(), key=str))}")


if __name__ == "__main__":
    main()
