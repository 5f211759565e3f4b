"""msgym's agents, MetaSchedule and the vendor library (cuBLAS / cuDNN through PyTorch) on the GPU.

One bench per task (``msgym bench --target cuda``: equal trial budgets, every candidate built by
NVRTC in parallel workers, checked against the CPU's reference output, timed by CUDA events; the
best few of each run re-timed at the end, interleaved with PyTorch's kernel for the task), then one
JSON with the GPU named::

    python experiments/bench_gpu.py --json experiments/results/gpu.json

Tasks are run in order until ``--budget-s`` would be passed (a GPU lease is short): a task not
started is listed under ``skipped`` with the reason. The in-loop curve gives each agent's best at
``--checkpoints`` trials (64 within a 128-trial run); the verified figure is the full budget's.
``--space extended`` runs msgym's agents in the extended space (on a GPU: tiles staged in dynamic
shared memory up to the architecture's opt-in limit). Without a GPU, ``--target llvm --tasks
gmm-64 --trials 4`` runs the same flow on this CPU (a check of the script, never figures).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from msgym._tvm import host_cpu, is_gpu, make_target, tvm  # noqa: E402
from msgym.commands import bench  # noqa: E402
from msgym.measure import Measurer  # noqa: E402
from msgym.search import command_line  # noqa: E402
from msgym.tasks import get_task  # noqa: E402


def machine(target: tvm.target.Target) -> dict:
    out = {"cpu": host_cpu(), "python": platform.python_version(), "target": str(target)}
    if is_gpu(target):
        dev = tvm.cuda(0)
        out.update(gpu=dev.device_name, compute_version=dev.compute_version, sms=dev.multi_processor_count)
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:
        pass
    return out


def task_summary(name: str, out: dict, checkpoints: list[int]) -> dict:
    """Per agent: verified GFLOPS, in-loop best at each checkpoint, wall time per measured candidate;
    and the vendor library's (PyTorch's) verified latency for the task."""
    runs = [r for r in out["runs"] if r["task"] == name]
    flops = runs[0]["flops"]
    vendor = out.get("pytorch_eager", {}).get(name, {}).get("pytorch_eager", {}).get("latency_s")
    cell: dict = {"flops": flops, "vendor_latency_s": vendor, "vendor_gflops": flops / vendor / 1e9 if vendor else None}
    for agent in out["agents"]:
        mine = [r for r in runs if r["agent"] == agent]
        verified = [r["verified_gflops"] for r in mine if r.get("verified_gflops")]
        at = {}
        for k in checkpoints:
            best = [r["curve_best_latency_s"][k - 1] for r in mine if len(r["curve_best_latency_s"]) >= k]
            best = [b for b in best if b is not None and not math.isinf(b)]
            if best:
                at[str(k)] = flops / statistics.median(best) / 1e9
        cell[agent] = {
            "verified_gflops": statistics.median(verified) if verified else None,
            "in_loop_gflops_at": at,
            "wall_s": statistics.median(r["wall_s"] for r in mine),
            "wall_per_candidate_s": statistics.median(r["wall_s"] / max(1, r["trials"]) for r in mine),
            "errors": sum(r["errors"] for r in mine),
            "seeds": len(mine),
        }
        if vendor and cell[agent]["verified_gflops"]:
            cell[agent]["vs_vendor"] = cell[agent]["verified_gflops"] / cell["vendor_gflops"]
    ms = cell.get("metaschedule", {})
    for agent in out["agents"]:
        if agent != "metaschedule" and ms.get("verified_gflops") and cell[agent]["verified_gflops"]:
            cell[agent]["vs_metaschedule"] = cell[agent]["verified_gflops"] / ms["verified_gflops"]
            cell[agent]["wall_per_candidate_vs_metaschedule"] = (
                cell[agent]["wall_per_candidate_s"] / ms["wall_per_candidate_s"]
            )
    return cell


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="gmm-2048,gmm-2048-fp16,c2d-nchw")
    p.add_argument("--agents", default="evolutionary,metaschedule")
    p.add_argument("--trials", type=int, default=64)
    p.add_argument("--checkpoints", default="32,64", help="trial counts at which to read the in-loop curve")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--verify-rounds", type=int, default=2)
    p.add_argument("--target", default="cuda")
    p.add_argument(
        "--space",
        default="default",
        choices=["default", "extended"],
        help="msgym's agents' design space (extended: dynamic shared memory past 48 KB); metaschedule stays on its own",
    )
    p.add_argument(
        "--no-reference-run",
        dest="reference_run",
        action="store_false",
        help="without metaschedule among --agents, no MetaSchedule reference run per task (150-220 s each)",
    )
    p.add_argument("--budget-s", type=float, default=420.0, help="start no task once a task's estimate would pass it")
    p.add_argument("--logdir", default="runs/bench_gpu")
    p.add_argument("--json", required=True)
    args = p.parse_args()

    start = time.perf_counter()
    target = make_target(args.target)
    tasks, agents = args.tasks.split(","), args.agents.split(",")
    checkpoints = [int(k) for k in args.checkpoints.split(",") if int(k) <= args.trials]
    for name in tasks:
        get_task(name, args.target)  # a bad name fails before anything is measured
    path = Path(args.json)
    result = {
        "command": command_line(),
        "machine": machine(target),
        "trials": args.trials,
        "seeds": args.seeds,
        "space": args.space,
        "agents": agents,
        "tasks": {},
        "skipped": {},
    }
    per_task_s: list[float] = []
    with Measurer(store=str(Path(args.logdir) / "records.jsonl")) as measurer:
        result["machine"]["build_workers"] = len(measurer.builders)
        for name in tasks:
            elapsed = time.perf_counter() - start
            estimate = max(per_task_s, default=0.0)
            if elapsed + estimate > args.budget_s:
                result["skipped"][name] = f"budget: {elapsed:.0f} s spent, a task took up to {estimate:.0f} s"
                print(f"skip {name}: {result['skipped'][name]}", flush=True)
                continue
            t0 = time.perf_counter()
            task_json = path.with_name(f"{path.stem}_{name}.json")
            try:
                out = bench.run(
                    [name],
                    agents,
                    args.trials,
                    args.seeds,
                    args.logdir,
                    str(task_json),
                    measurer,
                    progress=False,
                    verify_rounds=args.verify_rounds,
                    drift_every=16,
                    target=args.target,
                    space=args.space,
                    reference_run=args.reference_run,
                )
            except Exception:  # noqa: BLE001 - the other tasks still run (a lease is short); the error is kept
                result["skipped"][name] = traceback.format_exc()
                print(f"{name} failed:\n{result['skipped'][name]}", flush=True)
                continue
            finally:
                per_task_s.append(time.perf_counter() - t0)
            cell = task_summary(name, out, checkpoints)
            cell["task_wall_s"] = per_task_s[-1]
            result["tasks"][name] = cell
            print(f"{name}: {json.dumps(cell)}", flush=True)
            result["wall_s"] = time.perf_counter() - start
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=1))
    result["wall_s"] = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(table(result))
    return 0


def table(result: dict) -> str:
    lines = [f"GPU bench on {result['machine'].get('gpu', result['machine']['cpu'])}, {result['trials']} trials"]
    lines.append(f"{'task':<16} {'agent':<14} {'GFLOPS':>9} {'x vendor':>9} {'x MS':>6} {'s/cand':>7}")
    for name, cell in result["tasks"].items():
        vendor = cell.get("vendor_gflops")
        lines.append(f"{name:<16} {'vendor':<14} {format(vendor, '.0f') if vendor else '-':>9}")
        for agent in result["agents"]:
            a = cell.get(agent, {})
            figures = [(a.get("verified_gflops"), 9, ".0f"), (a.get("vs_vendor"), 9, ".2f")]
            figures += [(a.get("vs_metaschedule"), 6, ".2f"), (a.get("wall_per_candidate_s"), 7, ".2f")]
            # a figure the run has not (a failed run, MetaSchedule against itself): "-", not a made-up 0
            shown = " ".join(format(v, spec).rjust(w) if v is not None else "-".rjust(w) for v, w, spec in figures)
            lines.append(f"{'':<16} {agent:<14} {shown}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
