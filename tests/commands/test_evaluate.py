"""msgym eval's reference point: MetaSchedule's best after N trials, cached per task, target and threads."""

import json
import types

from msgym.commands import evaluate
from msgym.measure.store import cache_dir
from msgym.measure.worker import kernel_threads
from msgym.tasks import get_task


def test_a_reference_found_on_other_cpu_threads_is_found_again(monkeypatch, tmp_path):
    monkeypatch.setenv("MSGYM_CACHE_DIR", str(tmp_path))  # a cache of its own: it writes references.json
    task = get_task("gmm-64")
    path = cache_dir() / "references.json"
    stale = {f"{task.key}|metaschedule|7": {"task": "gmm-64", "best_latency_s": 1.0}}  # before threads were kept
    path.write_text(json.dumps(stale))
    calls = []

    def fake_tune(task, agent, trials, **kwargs):
        calls.append((agent, trials))
        return types.SimpleNamespace(best=types.SimpleNamespace(latency_s=2e-5), best_gflops=26.2)

    monkeypatch.setattr(evaluate, "tune", fake_tune)
    first = evaluate.metaschedule_best("gmm-64", 7, measurer=None, progress=False)
    again = evaluate.metaschedule_best("gmm-64", 7, measurer=None, progress=False)
    assert calls == [("metaschedule", 7)]  # the stale entry ignored, the new one cached
    assert first == again and first["best_latency_s"] == 2e-5
    assert first["threads"] == kernel_threads(task.target)
