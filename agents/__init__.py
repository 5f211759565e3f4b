"""Search agents, one file each, registered by name in ``msgym.search.registry.AGENTS``."""
