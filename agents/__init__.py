"""Search agents, one file each; ``msgym.search.create(name)`` loads ``agents/<name>.py``."""
