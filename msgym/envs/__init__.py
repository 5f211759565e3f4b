"""The Gymnasium environments: every MetaSchedule trace decision is a step.

Importing msgym registers them (string entry points, so ``gym.make`` imports TVM only when used):

* ``msgym/Schedule-v0``: TIR features + decision context; reward log speedup (the default).
* ``msgym/ScheduleSpeedup-v0``: same observation; reward speedup over the unscheduled program.
* ``msgym/ScheduleLatency-v0``: same observation; reward minus latency in ms.
* ``msgym/ScheduleContext-v0``: decision context only (no TIR feature extraction: fastest steps);
  reward log speedup.
* ``msgym/SchedulePredicted-v0``: TIR features + decision context; reward the MLP cost model's
  *predicted* log speedup (``cost_model=PATH.pt`` required); nothing is measured.
* ``msgym/ScheduleExtended-v0``: ``Schedule-v0`` in the extended design space (``space="extended"``:
  parallel granularity and vector width are decisions too; ``msgym.extended_space``).

Modules: ``schedule_env`` (the Gym API), ``actions`` (action codec), ``observations`` (layout),
``rewards`` (reward spaces), ``outcome`` (measured result -> reward and record), ``records``.
"""

from gymnasium.envs.registration import register

__all__ = ["ENV_IDS", "ENTRY_POINT", "register_envs"]

ENTRY_POINT = "msgym.envs.schedule_env:ScheduleEnv"
ENV_IDS = {
    "msgym/Schedule-v0": {"reward": "log_speedup", "observation": "features"},
    "msgym/ScheduleSpeedup-v0": {"reward": "speedup", "observation": "features"},
    "msgym/ScheduleLatency-v0": {"reward": "neg_latency", "observation": "features"},
    "msgym/ScheduleContext-v0": {"reward": "log_speedup", "observation": "context"},
    "msgym/SchedulePredicted-v0": {"reward": "predicted_log_speedup", "observation": "features"},
    "msgym/ScheduleExtended-v0": {"reward": "log_speedup", "observation": "features", "space": "extended"},
}


def register_envs() -> None:
    from gymnasium.envs.registration import registry

    for env_id, kwargs in ENV_IDS.items():
        if env_id not in registry:
            # Rewards are measured on real hardware: the same actions need not give the same reward.
            register(id=env_id, entry_point=ENTRY_POINT, kwargs=kwargs, nondeterministic=True)


register_envs()
