"""One search interface: a strategy proposes candidates, the loop measures them and logs.

``strategy`` (the interface agents implement), ``registry`` (agents by name: ``create``), ``loop``
(``Search``, ``tune``), ``run_log`` (run folders, TensorBoard), ``loop_measurer`` (drives an agent
that acts in the environment, such as PPO), ``database`` (results as a TVM database and back).
"""

from msgym.search.loop import Search, TuneResult, tune
from msgym.search.registry import AGENTS, DEFAULT_AGENT, create, parse_agent, parse_options, register_agent
from msgym.search.run_log import command_line
from msgym.search.strategy import Candidate, SearchContext, SearchStrategy

__all__ = [
    "Candidate",
    "SearchContext",
    "SearchStrategy",
    "Search",
    "create",
    "tune",
    "TuneResult",
    "AGENTS",
    "DEFAULT_AGENT",
    "register_agent",
    "parse_agent",
    "parse_options",
    "command_line",
]
