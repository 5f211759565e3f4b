"""Agents by short name: ``create(name)`` makes one, ``AGENTS`` lists them (explicitly registered).

Each entry is a string entry point ``module:Class`` (Gymnasium's style), so listing the agents
imports none of them; ``register_agent`` adds one.
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

from msgym.search.strategy import SearchStrategy

__all__ = ["AGENTS", "DEFAULT_AGENT", "register_agent", "create", "parse_agent", "parse_options"]

AGENTS: dict[str, str] = {
    "random": "agents.random:RandomSearch",
    "evolutionary": "agents.evolutionary:EvolutionarySearch",
    "ppo": "agents.ppo:PPOSearch",
    "ppo-pretrained": "agents.ppo_pretrained:PretrainedPPOSearch",
    "metaschedule": "agents.metaschedule:MetaScheduleSearch",
    "learned": "agents.learned:LearnedSearch",
}

# What ``msgym tune``, ``tune-model`` and ``tune()`` search with unless told: the learned searcher
# (MetaSchedule's search guided by the MLP pretrained across tasks), msgym's best on a CPU: 1.08x
# MetaSchedule's verified GFLOPS at 64 trials on four tasks it never saw (BENCHMARKS.md, issue 14).
# On a GPU it has no pretrained model and searches with MetaSchedule's XGBoost (agents/learned.py).
DEFAULT_AGENT = "learned"


def register_agent(name: str, entry_point: str) -> None:
    """Make ``create(name)`` build ``module:Class`` (a SearchStrategy subclass)."""
    if ":" not in entry_point:
        raise ValueError(f"an agent entry point is 'module:Class', got {entry_point!r}")
    AGENTS[name] = entry_point


def parse_options(pairs: "list[str] | None", what: str = "agent option") -> dict[str, Any]:
    """KEY=VALUE pairs; values read as JSON when they parse (numbers, booleans), else as text."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"an {what} is KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def parse_agent(spec: str) -> tuple[str, dict[str, Any]]:
    """``"evolutionary:cost_model=mlp:population=32"`` -> ("evolutionary", {"cost_model": "mlp", ...}):
    one agent with options in one string, so a bench can compare variants of an agent."""
    name, *pairs = spec.split(":")
    return name, parse_options(pairs)


def agent_class(name: str) -> type:
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choose one of {', '.join(AGENTS)}")
    module, _, cls = AGENTS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def create(kind: "str | SearchStrategy", **kwargs: Any) -> SearchStrategy:
    """A strategy from its short name (``AGENTS``, optionally ``name:key=value:...``) and its
    options, or ``kind`` itself."""
    if isinstance(kind, SearchStrategy):
        if kwargs:
            raise ValueError(f"agent options {sorted(kwargs)} given with an agent instance; set them on it instead")
        return kind
    kind, spec_options = parse_agent(kind)
    kwargs = {**spec_options, **kwargs}
    cls = agent_class(kind)
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as err:  # an unknown option: name the ones there are
        params = ", ".join(inspect.signature(cls).parameters) or "none"
        raise ValueError(f"agent {kind!r}: {err}; its options are: {params}") from err
    return cls(**kwargs)
