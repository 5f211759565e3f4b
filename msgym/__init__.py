"""msgym: a Gymnasium testbed for tensor-program scheduling on TVM MetaSchedule.

Importing msgym registers the environments (``msgym.envs``). The data flows one way:
``tasks`` -> design spaces (``decisions``, ``space``) -> ``envs`` -> ``measure`` <- ``search`` (the
loop, driving ``agents/``); around them ``cost_models`` and ``commands`` (the CLI's jobs).
"""

from msgym.envs import ENV_IDS
from msgym.tasks import get_task

__version__ = "0.1.0"

__all__ = ["ENV_IDS", "get_task", "__version__"]
