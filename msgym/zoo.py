"""rl-baselines3-zoo with msgym: hyperparameters for every registered environment id, and the zoo's
``train`` with sb3-contrib's MaskablePPO added as ``ppo_mask``.

    python -m msgym.zoo --algo ppo_mask --env msgym/ScheduleContext-v0 --gym-packages msgym \\
        -conf msgym.zoo --env-kwargs task:"'c2d'"
    python -m rl_zoo3.train --algo ppo --env msgym/ScheduleContext-v0 --gym-packages msgym -conf msgym.zoo

``python -m msgym.zoo`` is the zoo's own ``train`` (same options, same log folders and saved
models); the zoo itself (2.9) lists no ``ppo_mask``, so plain ``rl_zoo3.train`` takes ``--algo ppo``,
which works too: an action outside the mask is wrapped to a valid one (``info["action_wrapped"]``).
The zoo imports this module for ``-conf`` (a Python package with a ``hyperparams`` dict) and
``--gym-packages msgym`` registers the environments. The PPO settings are ``msgym train``'s for
measured rewards (the ``measured`` block of ``commands/configs/ppo.yaml``, read from there); one
env, since measurements are serialized on the machine anyway. The default task is small; name
another with ``--env-kwargs task:"'NAME'"``. ``SchedulePredicted-v0`` is left out: it needs a
cost model file (``--env-kwargs cost_model:"'mlp.pt'"`` with a ``-conf`` of your own).
"""

from msgym.commands.train import PPO_KEYS, hyperparameters
from msgym.envs import ENV_IDS

ZOO_TIMESTEPS = 2048


def _measured() -> dict:
    block = hyperparameters("measured")
    return {
        "policy": "MlpPolicy",
        "n_timesteps": ZOO_TIMESTEPS,
        "n_envs": 1,
        **{key: block[key] for key in PPO_KEYS},
        "policy_kwargs": f"dict(net_arch={list(block['net_arch'])})",  # the zoo evaluates this string
        "env_kwargs": {"task": "gmm-64"},
    }


hyperparams = {env_id: _measured() for env_id in ENV_IDS if "Predicted" not in env_id}


def main() -> None:
    """The zoo's ``train`` entry point, with ``ppo_mask`` among its algorithms."""
    from rl_zoo3.train import train
    from rl_zoo3.utils import ALGOS
    from sb3_contrib import MaskablePPO

    ALGOS.setdefault("ppo_mask", MaskablePPO)
    train()


if __name__ == "__main__":
    main()
