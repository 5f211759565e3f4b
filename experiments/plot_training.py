"""Plot msgym train runs' episode reward against timesteps (from their progress.csv).

python experiments/plot_training.py RUN_DIR [RUN_DIR ...] --out experiments/results/training_curve.png
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.runs), figsize=(5.5 * len(args.runs), 3.8), squeeze=False)
    for ax, run in zip(axes[0], args.runs):
        rows = [r for r in csv.DictReader(open(Path(run) / "progress.csv")) if r.get("rollout/ep_rew_mean")]
        config = json.loads((Path(run) / "config.json").read_text())
        steps = [int(r["time/total_timesteps"]) for r in rows]
        ax.plot(steps, [float(r["rollout/ep_rew_mean"]) for r in rows])
        kind = "predicted (cost model)" if config["reward"] == "predicted" else "measured"
        ax.set(
            title=f"{config['reward']} reward, {len(config['tasks'])} tasks",
            xlabel="timesteps",
            ylabel=f"mean episode reward: {kind} log speedup",
        )
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)


if __name__ == "__main__":
    main()
