"""Do this VM's slow spells show as hypervisor steal time? One kernel measured again and again.

Separate measurements of one GEMM 512 kernel (the fastest of 16 random candidates, as
``bench_measure.py`` picks it) through msgym's default protocol for ``--seconds``, the machine's
steal time (``/proc/stat``, the hypervisor's record of time this VM was ready but not run) read
before and after each. Why: a measurement taken in one of the VM's slow spells (1.2-1.8x, seconds
long) is what keeps issue 13's target of a 3% spread from holding run after run; if the spells were
steal, the protocol could see them and measure again, at no cost in the quiet minutes.

    python experiments/steal.py --seconds 300 --json experiments/results/steal_znver5.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import emit, fastest_random, write_json

from msgym._tvm import host_cpu
from msgym.measure import Measurer

SLOW = 1.1  # a measurement over this many times the median counts as slow


def steal_jiffies() -> int:
    """The whole machine's steal time so far, in jiffies (1/100 s): the 8th figure of /proc/stat's cpu line."""
    with open("/proc/stat") as f:
        return int(f.readline().split()[8])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    calls = []
    with Measurer() as measurer:
        task, program = fastest_random("gmm-512", 16, measurer)
        measurer.measure(task, program, use_cache=False)  # the run worker's start, not counted
        start = time.time()
        while time.time() - start < args.seconds:
            before, t0 = steal_jiffies(), time.time()
            latency = measurer.measure(task, program, use_cache=False).latency_s
            calls.append({"t": t0 - start, "latency_s": latency, "steal_jiffies": steal_jiffies() - before})
    median = statistics.median(c["latency_s"] for c in calls)
    slow = [c for c in calls if c["latency_s"] > SLOW * median]
    stolen = [c for c in calls if c["steal_jiffies"] > 0]
    out = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"mcpu={host_cpu()}",
        "measurements": len(calls),
        "median_latency_s": median,
        "cv": statistics.pstdev(c["latency_s"] for c in calls) / statistics.fmean(c["latency_s"] for c in calls),
        "slow": len(slow),
        "slow_with_steal": sum(1 for c in slow if c["steal_jiffies"] > 0),
        "with_steal": len(stolen),
        "steal_jiffies": sum(c["steal_jiffies"] for c in calls),
        "calls": calls,
    }
    emit({k: v for k, v in out.items() if k != "calls"}, None)  # the calls themselves only in the file
    if args.json:
        write_json(out, args.json)


if __name__ == "__main__":
    main()
