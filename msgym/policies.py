"""Saved policies: the metadata written beside each ``policy.zip``, and the check made on loading.

A policy is only meaningful for the observation encoding and action count it was trained with
(``envs.observations.ENCODING``); loading one made for another is an error that says so.
"""

from __future__ import annotations

import json
from pathlib import Path

from msgym.envs.observations import ENCODING

__all__ = ["ENCODING", "N_ACTIONS", "check_policy", "write_metadata"]

N_ACTIONS = 32


def check_policy(path: "str | Path") -> dict:
    """A saved policy's metadata, if it has any; refuses one made for another observation encoding."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no saved policy at {str(path)!r} (a policy.zip from a ppo run folder or msgym train)")
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        return {}
    meta = json.loads(meta_path.read_text())
    if meta.get("encoding") != ENCODING or meta.get("n_actions") != N_ACTIONS:
        raise ValueError(
            f"policy {path} was trained with observation encoding {meta.get('encoding')} and "
            f"{meta.get('n_actions')} actions; this msgym uses {ENCODING} and {N_ACTIONS}: retrain it"
        )
    return meta


def write_metadata(policy: "str | Path", meta: dict) -> None:
    """The ``.json`` beside a saved policy: its encoding plus what the caller records."""
    Path(policy).with_suffix(".json").write_text(
        json.dumps({"encoding": ENCODING, "n_actions": N_ACTIONS, **meta}, indent=1)
    )
