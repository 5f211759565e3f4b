"""Loaded into measurement workers by MSGYM_WORKER_PRELOAD in the build-scheduling test: every
build and every run appends ``[kind, pid, start, end]`` (wall clock, seconds) to the file named
by ``MSGYM_TEST_TIMELINE``. Each build is made to last at least ``MIN_BUILD_S``, so that two
builds that may run at once do, however fast this machine builds."""

import json
import os
import time

from msgym.measure import worker

MIN_BUILD_S = 0.5
_build, _run = worker.build, worker.run


def _logged(kind, fn, min_s=0.0):
    def wrapped(*args, **kwargs):
        start = time.time()
        try:
            return fn(*args, **kwargs)
        finally:
            time.sleep(max(0.0, min_s - (time.time() - start)))
            with open(os.environ["MSGYM_TEST_TIMELINE"], "a") as f:
                f.write(json.dumps([kind, os.getpid(), start, time.time()]) + "\n")

    return wrapped


worker.build = _logged("build", _build, MIN_BUILD_S)
worker.run = _logged("run", _run)
