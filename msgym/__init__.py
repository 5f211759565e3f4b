"""msgym: a Gymnasium testbed for tensor-program scheduling on TVM MetaSchedule.

Importing msgym registers the environments:

* ``msgym/Schedule-v0``: TIR features + decision context; reward log speedup (the default).
* ``msgym/ScheduleSpeedup-v0``: same observation; reward speedup over the unscheduled program.
* ``msgym/ScheduleLatency-v0``: same observation; reward minus latency in ms.
* ``msgym/ScheduleContext-v0``: decision context only (no TIR feature extraction: fastest steps);
  reward log speedup.
* ``msgym/SchedulePredicted-v0``: TIR features + decision context; reward the MLP cost model's
  *predicted* log speedup (``cost_model=PATH.pt`` required); nothing is measured.
"""

from gymnasium.envs.registration import register

__version__ = "0.1.0"

_ENTRY = "msgym.env:ScheduleEnv"
ENV_IDS = {
    "msgym/Schedule-v0": {"reward": "log_speedup", "observation": "features"},
    "msgym/ScheduleSpeedup-v0": {"reward": "speedup", "observation": "features"},
    "msgym/ScheduleLatency-v0": {"reward": "neg_latency", "observation": "features"},
    "msgym/ScheduleContext-v0": {"reward": "log_speedup", "observation": "context"},
    "msgym/SchedulePredicted-v0": {"reward": "predicted_log_speedup", "observation": "features"},
}

for _id, _kwargs in ENV_IDS.items():
    # Rewards are measured on real hardware: the same actions need not give the same reward.
    register(id=_id, entry_point=_ENTRY, kwargs=_kwargs, nondeterministic=True)

from msgym.tasks import get_task  # noqa: E402

__all__ = ["ENV_IDS", "get_task", "__version__"]
