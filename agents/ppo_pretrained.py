"""PPO starting from the policy msgym ships, trained across the ``train`` task set.

The policy file, its training command, task set, machine and date are in
``agents/policies/`` (``ppo_pretrained.zip`` and ``ppo_pretrained.json``); ``policy=PATH`` uses
another. Otherwise the ``ppo`` agent: it keeps learning online from the measured rewards
(``learn=False``: it only samples).
"""

from __future__ import annotations

from pathlib import Path

from agents.ppo import PPOSearch

DEFAULT_POLICY = Path(__file__).resolve().parent / "policies" / "ppo_pretrained.zip"


class PretrainedPPOSearch(PPOSearch):
    name = "ppo-pretrained"

    def __init__(self, policy: "str | None" = None, **options):
        if policy is None and not DEFAULT_POLICY.is_file():  # any other path: ppo's own policy check
            raise ValueError(
                f"no policy at {DEFAULT_POLICY}: the shipped one is missing; train one with "
                "msgym train --tasks train --save PATH and pass policy=PATH"
            )
        super().__init__(policy=policy or str(DEFAULT_POLICY), **options)
