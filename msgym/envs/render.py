"""What ``render()`` shows: the episode's state as text (``ansi``) or as a picture (``rgb_array``).

The text gives the task, the design space, the decisions so far, the pending sub-step and its
options, the last result and the program as it stands. The picture (for recording wrappers and
SB3's ``make_vec_env``, which asks for ``rgb_array``) shows the same state on the left and, on the
right, the reward of every finished episode of this env with the best so far: how the search goes.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

__all__ = ["RENDER_MODES", "state_lines", "loop_nest", "ansi", "rgb_array"]

RENDER_MODES = ("ansi", "rgb_array")
SIZE = (720, 360)  # width, height in pixels of an rgb_array frame


def state_lines(env: Any) -> list[str]:
    """The episode's state, a line per fact (no program text)."""
    ro = env.rollout
    space = ro.space if ro is not None and ro.space is not None else "?"
    lines = [
        f"task {env.task.name}: design space {space} of {len(env.spaces)}; "
        f"decisions so far {ro.decisions if ro else []}"
    ]
    if ro is not None and not ro.done and ro.spec is not None:
        lines.append(
            f"pending {ro.spec.kind} sub-step {len(ro.prefix) + 1}/{ro.spec.n_sub_steps} "
            f"chosen {list(ro.prefix)} options {ro.options()}"
        )
    if env.record is not None:
        rec = env.record
        lines.append(f"result: reward {rec.reward} latency {rec.latency_s} error {rec.error}")
    return lines


def loop_nest(env: Any, width: int = 70) -> list[str]:
    """The loops (and blocks) of the program as it stands, one line each, from its TVMScript."""
    ro = env.rollout
    program = ro.live.mod if ro is not None and ro.live is not None else env.task.mod
    keep = ("for ", "with T.sblock", "with T.block")
    lines = [line.rstrip() for line in program.script().splitlines() if line.strip().startswith(keep)]
    return [line[:width] for line in textwrap.dedent("\n".join(lines)).splitlines()]


def ansi(env: Any) -> str:
    ro = env.rollout
    program = ro.live.mod if ro is not None and ro.live is not None else env.task.mod
    return "\n".join([*state_lines(env), program.script()])


def rgb_array(env: Any, rewards: list[float]) -> np.ndarray:
    """A ``SIZE`` RGB frame (uint8, height x width x 3) of the state and the episode rewards."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = SIZE
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)  # no pyplot, no global backend: safe in any process or thread
    text_ax, curve_ax = fig.add_axes((0.01, 0.02, 0.5, 0.96)), fig.add_axes((0.6, 0.15, 0.37, 0.75))
    text_ax.axis("off")
    wrapped = [part for line in state_lines(env) for part in textwrap.wrap(line, 70) or [""]]
    text = "\n".join([*wrapped, "", "loop nest so far:", *loop_nest(env)][:30])
    text_ax.text(0, 1, text, va="top", ha="left", family="monospace", fontsize=6)
    if rewards:
        episodes = np.arange(1, len(rewards) + 1)
        curve_ax.plot(episodes, rewards, ".", color="tab:blue", label="episode")
        curve_ax.plot(episodes, np.maximum.accumulate(rewards), "-", color="tab:orange", label="best so far")
        curve_ax.legend(fontsize=6, loc="lower right")
    curve_ax.set_title(f"{env.reward_space.name} per episode", fontsize=8)
    curve_ax.set_xlabel("episode", fontsize=7)
    curve_ax.tick_params(labelsize=6)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
