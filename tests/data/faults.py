"""Loaded into measurement workers by MSGYM_WORKER_PRELOAD in the fault tests: a program whose
function carries the attribute ``msgym_fault = "hang_build"`` makes the build hang."""

import time

import tvm

_build = tvm.tirx.build


def build(mod, *args, **kwargs):
    attrs = mod["main"].attrs
    if attrs is not None and "msgym_fault" in attrs and str(attrs["msgym_fault"]) == "hang_build":
        time.sleep(3600)
    return _build(mod, *args, **kwargs)


tvm.tirx.build = build
