"""Soak test of msgym's reliability: kills, shared caches, many episodes.

Part 1, kills: ``--rounds`` times, two processes share one cache folder, ``msgym tune`` (gmm-512,
random agent) and ``msgym bench`` (sfm, random + evolutionary), and both are killed with
``kill -9`` at a random moment; each is then restarted as a user would (same command). After every
round, and after a last round that runs both to completion, it checks: every line of the record
store parses; every candidate a tune run folder recorded is in the store (none lost); no candidate
of the tune's task was measured twice (none duplicated; bench re-measures by design, so its task is
left out of that count); no lock in the cache folder is held; no measurement worker is left; the
bench JSON parses.

Part 2, episodes: ``--episodes`` episodes over 4 asynchronous environments (Gymnasium's
``make_vec``, real measurements through the shared store) on a small task (nrm: 60 candidates),
counting episodes that ended without a reward and a record (lost).

    python experiments/soak.py --rounds 7 --episodes 10000 --json experiments/results/soak.json
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Enough work (minutes) that every round's kill lands in the middle of measuring.
TUNE_TASK = "gmm-512"
TUNE = ["tune", "--task", TUNE_TASK, "--agent", "random", "--trials", "96", "--seed", "0", "--no-show"]
BENCH = ["bench", "--tasks", "sfm", "--agents", "random,evolutionary", "--trials", "24", "--seeds", "3"]


def msgym(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "msgym.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def workers_left() -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"msgym.measure.worker" in stat.read_bytes():
                out.append(int(stat.parent.name))
        except OSError:
            continue
    return [pid for pid in out if _running(pid)]


def _running(pid: int) -> bool:
    """Whether any thread of the process still runs (a killed process's first thread turns zombie
    before the others, and the locks they share, are gone)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    for task in tasks:
        try:
            if (task / "stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                return True
        except OSError:
            continue
    return False


def locks_held(cache: Path) -> list[str]:
    held = []
    for path in [*cache.glob("*.lock"), *cache.glob("locks/*")]:
        with open(path, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(f, fcntl.LOCK_UN)
            except BlockingIOError:
                held.append(path.name)
    return held


def check(cache: Path, logdir: Path, bench_json: Path) -> dict:
    from msgym.measure.store import candidate_key
    from msgym.tasks import get_task

    store = cache / "records.jsonl"
    lines = store.read_text().splitlines() if store.exists() else []
    parsed, bad = [], 0
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            bad += 1
    keys = [r["key"] for r in parsed]
    tune_task = get_task(TUNE_TASK)
    tune_keys = [k for k in keys if k.startswith(tune_task.key + "|")]
    recorded = set()
    for run in logdir.glob(f"{TUNE_TASK}__*"):
        path = run / "records.jsonl"
        for line in path.read_text().splitlines() if path.exists() else []:
            rec = json.loads(line)
            recorded.add(candidate_key(tune_task.key, rec["space"], rec["decisions"]))
    bench_ok = True
    if bench_json.exists():
        try:
            json.loads(bench_json.read_text())
        except json.JSONDecodeError:
            bench_ok = False
    return {
        "store_lines": len(lines),
        "unparseable_lines": bad,
        "lost": len(recorded - set(keys)),
        "duplicated": len(tune_keys) - len(set(tune_keys)),
        "locks_held": locks_held(cache),
        "workers_left": len(workers_left()),
        "bench_json_ok": bench_ok,
    }


def kill_rounds(rounds: int, seed: int) -> dict:
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="msgym-soak-"))
    cache, logdir, bench_json = root / "cache", root / "runs", root / "bench.json"
    env = {**os.environ, "MSGYM_CACHE_DIR": str(cache)}
    tune_args = [*TUNE, "--logdir", str(logdir)]
    bench_args = [*BENCH, "--logdir", str(logdir), "--json", str(bench_json)]
    checks, tracebacks = [], 0
    for r in range(rounds + 1):
        procs = [msgym(tune_args, env), msgym(bench_args, env)]
        killed = []
        if r < rounds:
            time.sleep(rng.uniform(4.0, 25.0))
            for proc in procs:
                killed.append(proc.poll() is None)
                if killed[-1]:
                    os.killpg(proc.pid, signal.SIGKILL)
        codes = [proc.wait() for proc in procs]
        tracebacks += sum("Traceback" in proc.stderr.read() for proc in procs)
        time.sleep(1.5)  # workers notice their parent's death within a second
        result = {"round": r, "killed": killed, "exit_codes": codes, **check(cache, logdir, bench_json)}
        checks.append(result)
        print(json.dumps(result), flush=True)
    final = checks[-1]
    return {
        "rounds": rounds,
        "checks": checks,
        "last_round_exit_codes": final["exit_codes"],
        "processes_killed": sum(sum(c["killed"]) for c in checks),
        "tracebacks_in_logs": tracebacks,
        "max_unparseable_lines": max(c["unparseable_lines"] for c in checks),
        "max_lost": max(c["lost"] for c in checks),
        "max_duplicated": max(c["duplicated"] for c in checks),
        "max_locks_held": max(len(c["locks_held"]) for c in checks),
        "max_workers_left": max(c["workers_left"] for c in checks),
    }


def episodes(n: int, n_envs: int = 4, task: str = "nrm") -> dict:
    import gymnasium as gym

    import msgym  # noqa: F401

    root = Path(tempfile.mkdtemp(prefix="msgym-soak-episodes-"))
    os.environ["MSGYM_CACHE_DIR"] = str(root)  # the env processes' measurers share this store
    envs = gym.make_vec("msgym/ScheduleContext-v0", num_envs=n_envs, vectorization_mode="async", task=task)
    rng = np.random.default_rng(0)
    envs.reset(seed=0)
    done = lost = errors = 0
    t0 = time.perf_counter()
    while done < n:
        masks = np.stack(envs.call("action_masks"))
        actions = [int(rng.choice(np.flatnonzero(m))) if m.any() else 0 for m in masks]
        _, rewards, terminated, _, infos = envs.step(np.array(actions))
        # Gymnasium stacks each info key over the envs (a dict into a dict of arrays), with a
        # "_key" mask of the envs that set it.
        has_record, record_rewards = infos.get("_record", np.zeros(n_envs, bool)), infos.get("record", {}).get("reward")
        for i in np.flatnonzero(terminated):
            done += 1
            if not has_record[i] or not np.isfinite(rewards[i]) or record_rewards[i] != rewards[i]:
                lost += 1
            errors += bool(infos.get("_error", np.zeros(n_envs, bool))[i] and infos["error"][i])
    wall = time.perf_counter() - t0
    envs.close()
    store = root / "records.jsonl"
    measured = len(store.read_text().splitlines()) if store.exists() else 0
    return {
        "episodes": done,
        "envs": n_envs,
        "task": task,
        "lost": lost,
        "error_results": errors,
        "records_in_store": measured,
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--episodes", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    from msgym._tvm import host_cpu

    out = {"command": " ".join(["python", *sys.argv]), "machine": f"{platform.machine()} mcpu={host_cpu()}"}
    out["kills"] = kill_rounds(args.rounds, args.seed)
    out["episodes"] = episodes(args.episodes)
    print(json.dumps({k: v for k, v in out["kills"].items() if k != "checks"}, indent=1))
    print(json.dumps(out["episodes"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
