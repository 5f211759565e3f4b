"""Saved policies: the metadata written beside each ``policy.zip``, and the checks made on loading.

A policy is only meaningful for the observation encoding and action count it was trained with
(``envs.observations.ENCODING``); loading one made for another is an error that says so.

A policy file is code: SB3 unpickles part of the zip when it loads it, so a crafted file runs
whatever its maker wrote. msgym records the sha256 of every policy zip it writes (in the ``.json``
beside it, and in ``trusted_policies.txt`` in the cache folder, which only this user's msgym
writes), and loads a zip only if its hash is one msgym wrote here or one of the policies shipped
with msgym (``agents/policies/*.json``). Anything else needs the user's word: ``trust=True``
(``trust_policy=true`` on the ppo agents, ``--trust-policy`` on ``msgym train`` and ``msgym eval``).
A ``.json`` beside a received zip proves nothing (its maker can write the matching hash too).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

from msgym.envs.observations import ENCODING
from msgym.measure.store import cache_dir, file_lock

__all__ = ["ENCODING", "N_ACTIONS", "PolicyTrustError", "check_policy", "sha256", "trust", "write_metadata"]

N_ACTIONS = 32
TRUST_HELP = (
    "load it only if you trust where it came from: trust_policy=true (--agent-opt trust_policy=true), "
    "or --trust-policy on msgym train / msgym eval"
)


class PolicyTrustError(ValueError):
    """A policy zip msgym did not write here and that does not ship with msgym."""


def sha256(path: "str | Path") -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _trust_file() -> Path:
    return cache_dir() / "trusted_policies.txt"


def shipped_hashes() -> set[str]:
    """The sha256 of each policy that ships with msgym (recorded in ``agents/policies/*.json``)."""
    spec = importlib.util.find_spec("agents")
    if spec is None or not spec.submodule_search_locations:
        return set()
    folder = Path(next(iter(spec.submodule_search_locations))) / "policies"
    return {json.loads(p.read_text()).get("sha256") for p in folder.glob("*.json")} - {None}


def trusted_hashes() -> set[str]:
    path = _trust_file()
    local = set(path.read_text().split()) if path.exists() else set()
    return local | shipped_hashes()


def trust(path: "str | Path") -> str:
    """Record ``path``'s hash as one msgym wrote (call right after writing a policy zip)."""
    digest = sha256(path)
    with file_lock(_trust_file().with_suffix(".lock")):
        with open(_trust_file(), "a") as f:
            f.write(digest + "\n")
    return digest


def check_policy(path: "str | Path", trusted: bool = False) -> dict:
    """A saved policy's metadata (``{}`` if it has none). Refuses a missing file, one made for
    another observation encoding, and, unless ``trusted``, one msgym did not write here."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no saved policy at {str(path)!r} (a policy.zip from a ppo run folder or msgym train)")
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if meta and (meta.get("encoding") != ENCODING or meta.get("n_actions") != N_ACTIONS):
        raise ValueError(
            f"policy {path} was trained with observation encoding {meta.get('encoding')} and "
            f"{meta.get('n_actions')} actions; this msgym uses {ENCODING} and {N_ACTIONS}: retrain it"
        )
    if not trusted:
        digest = sha256(path)
        if meta.get("sha256") not in (None, digest):
            raise PolicyTrustError(
                f"policy {path} changed since it was written (sha256 {digest[:12]}..., "
                f"recorded {str(meta['sha256'])[:12]}...); a policy file runs code when "
                f"loaded: {TRUST_HELP}"
            )
        if digest not in trusted_hashes():
            raise PolicyTrustError(
                f"policy {path} (sha256 {digest[:12]}...) was not written by msgym on this machine "
                f"and is not one msgym ships; a policy file runs code when loaded (SB3 unpickles "
                f"it): {TRUST_HELP}"
            )
    return meta


def write_metadata(policy: "str | Path", meta: dict) -> None:
    """The ``.json`` beside a policy zip msgym just wrote: encoding, hash, and what the caller
    records; the hash also goes to this machine's trusted list."""
    digest = trust(policy)
    Path(policy).with_suffix(".json").write_text(
        json.dumps({"encoding": ENCODING, "n_actions": N_ACTIONS, "sha256": digest, **meta}, indent=1)
    )
