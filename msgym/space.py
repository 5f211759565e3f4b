"""A task's design spaces, walked one decision at a time, and the programs they produce.

MetaSchedule's post-order-apply generator gives each task one or more design spaces: traces of
schedule primitives whose sampling instructions carry decisions. Valid candidates for a decision
can depend on earlier decisions (compute locations depend on tiling), so they are computed on
the program as it stands when the decision is reached.

To keep a step cheap, a ``Rollout`` replays the chosen trace *once per episode*: TVM's
``Trace.apply_to_schedule`` runs in a helper thread whose ``decision_provider`` pauses at every
sampling instruction until the caller chooses. Each step then costs one sub-step's bookkeeping, not
a replay of the prefix.
"""

from __future__ import annotations

import dataclasses
import functools
import queue
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tvm_ffi

from msgym._tvm import Schedule, Trace, load_tensor_intrinsics, tvm
from msgym.decisions import (
    CategoricalSpec,
    DecisionSpec,
    LocationSpec,
    PartitionedTileSpec,
    SpaceChoiceSpec,
    TileSpec,
    count_values,
)
from msgym.extended_space import space_contexts
from msgym.features import StoreFeatures
from msgym.lru import LRU
from msgym.tasks import Task

__all__ = ["Candidate", "DesignSpaces", "Rollout", "UnsupportedDecision", "InvalidCandidate", "design_spaces"]

SUPPORTED = ("SamplePerfectTile", "SamplePartitionedTile", "SampleCategorical", "SampleComputeLocation")


class UnsupportedDecision(RuntimeError):
    """A sampling instruction msgym does not know how to enumerate: fail loudly, never guess."""


class InvalidCandidate(RuntimeError):
    """Decisions that do not give a program: a failed postprocessor or schedule primitive."""


class _Abort(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A point of a task's design space: which space, and one decision per sampling instruction."""

    space: int
    decisions: tuple

    @classmethod
    def of(cls, space: int, decisions: list[Any]) -> "Candidate":
        return cls(space, freeze_decisions(decisions))

    def decision_list(self) -> list[Any]:
        return [list(d) if isinstance(d, tuple) else d for d in self.decisions]


def probe_compute_locations(sch: Schedule, block_rv: Any) -> tuple[int, ...]:
    """Valid compute locations of a block, read from TVM itself.

    TVM has no API listing them, but ``sample_compute_location(decision=d)`` answers the largest
    valid location <= d (or -1, the root, if none). Walking down from a huge d lists them all with
    one probe per location. Probes only sample: they add trace entries, never change the program.
    """
    found: list[int] = []
    d = 1 << 30
    while True:
        sch.sample_compute_location(block_rv, decision=d)
        trace = sch.trace
        v = int(trace.decisions[trace.insts[-1]])
        if v > d or (found and v >= found[-1]):
            break  # fell back to the root: nothing valid below d
        found.append(v)
        if v <= -2:
            break
        d = v - 1
    return tuple(sorted(found))


class DesignSpaces:
    """The design spaces of one task, their postprocessors, and program building."""

    def __init__(self, task: Task, seed: int = 0):
        load_tensor_intrinsics()
        self.task = task
        # One program in the default space; in the extended one maybe a second, its weights packed
        # (``extended_space.space_modules``): its spaces follow the first's.
        self.traces: list[Trace] = []
        self.space_mods: list[tvm.IRModule] = []  # the program each space's trace schedules
        for i, context in enumerate(space_contexts(task, seed, num_threads=1)):
            traces = [sch.trace for sch in context.generate_design_space()]
            self.traces += traces
            self.space_mods += [context.mod] * len(traces)
            if i == 0:  # the first program's context; its postprocessors serve every space
                self.context = context
                self.postprocs = list(context.space_generator.postprocs)
        self.sampling = [[inst for inst in t.insts if inst in t.decisions] for t in self.traces]
        for i, insts in enumerate(self.sampling):
            for inst in insts:
                if inst.kind.name not in SUPPORTED:
                    raise UnsupportedDecision(
                        f"task {task.name}, design space {i}: sampling instruction {inst.kind.name} is not "
                        f"supported (msgym enumerates {', '.join(SUPPORTED)})"
                    )
        # Valid compute locations given a decision prefix: deterministic, and probing is slow.
        self.location_cache = LRU(16384)
        self.program_cache = LRU(256)  # (space, decisions) -> final program, or why there is none
        self.features = StoreFeatures()  # TIR features of this task's programs (observations, cost models)
        self._threads = threading.local()  # a screening thread's own postprocessors (see _postprocs)

    @functools.cached_property
    def unscheduled(self) -> Schedule:
        """The task's program before any decision (what the first observation describes)."""
        return Schedule(self.task.mod)

    def __len__(self) -> int:
        return len(self.traces)

    def n_decisions(self, space: int) -> int:
        return len(self.sampling[space])

    def default_decisions(self, space: int) -> list[Any]:
        t = self.traces[space]
        return [_plain(t.decisions[inst]) for inst in self.sampling[space]]

    def trace_with(self, space: int, decisions: list[Any]) -> Trace:
        """The design-space trace with the given decisions (one per sampling instruction)."""
        insts = self.sampling[space]
        if len(decisions) != len(insts):
            raise ValueError(f"design space {space} has {len(insts)} decisions, got {len(decisions)}")
        t = self.traces[space]
        return Trace(t.insts, {inst: d for inst, d in zip(insts, decisions)})

    def schedule(self, space: int, decisions: list[Any]) -> Schedule:
        """The program under these decisions, before postprocessing; TVM's reading checked."""
        sch = Schedule(self.space_mods[space])
        self.trace_with(space, decisions).apply_to_schedule(sch, remove_postproc=True)
        got = [_plain(sch.trace.decisions[i]) for i in sch.trace.insts if i in sch.trace.decisions]
        if got != [_plain(d) for d in decisions]:
            raise InvalidCandidate(f"TVM replaced decisions {decisions} with {got} (not a valid candidate)")
        return sch

    def program(self, space: int, decisions: list[Any]) -> Schedule:
        """The final program: decisions replayed, then the target's postprocessors applied."""
        try:
            sch = self.schedule(space, decisions)
        except InvalidCandidate:
            raise
        except Exception as err:  # a TVM ScheduleError and the like
            raise InvalidCandidate(f"replay failed: {_first_line(err)}") from err
        for postproc in self._postprocs():
            try:
                ok = postproc.apply(sch)
            except Exception as err:
                raise InvalidCandidate(f"postprocessor {type(postproc).__name__} raised: {_first_line(err)}") from err
            if not ok:
                raise InvalidCandidate(f"postprocessor {type(postproc).__name__} rejected the program")
        return sch

    def program_mod(self, space: int, decisions: list[Any]) -> tvm.IRModule:
        """``program(...).mod``, remembered for the last few hundred candidates: an agent that
        screens its proposals (``sample(screen=True)``) has already made the program the measurer
        asks for next. Raises ``InvalidCandidate`` likewise (also remembered)."""
        key = (space, freeze_decisions(decisions))
        found = self.program_cache.get(key)
        if found is None:
            try:
                found = self.program_cache.put(key, self.program(space, decisions).mod)
            except InvalidCandidate as err:
                found = self.program_cache.put(key, err)
        if isinstance(found, InvalidCandidate):
            raise found
        return found

    def _postprocs(self) -> list[Any]:
        """The postprocessors, cloned once per screening thread: MetaSchedule's own parallel search
        gives each thread its own copies too (they keep state between calls)."""
        if threading.current_thread() is threading.main_thread():
            return self.postprocs
        mine = getattr(self._threads, "postprocs", None)
        if mine is None or mine[0] is not self.postprocs:
            mine = (self.postprocs, [_clone(p) for p in self.postprocs])
            self._threads.postprocs = mine
        return mine[1]

    def valid(self, space: int, decisions: list[Any]) -> bool:
        """Whether the decisions give a program (replay and every postprocessor pass): on a GPU most
        uniform walks do not (MetaSchedule's ``VerifyGPUCode`` rejects 92% of gmm-512's for thread
        and shared-memory limits); on a CPU nearly all do."""
        try:
            self.program_mod(space, decisions)
        except InvalidCandidate:
            return False
        return True

    def rollout(self, space: int | None = None) -> "Rollout":
        return Rollout(self, space)

    def sample(
        self, rng: Any, space: int | None = None, preferred: "list[Any] | None" = None, screen: bool = False
    ) -> "tuple[int, list] | None":
        """One walk: decision k takes ``preferred[k]`` where that is still valid, and otherwise
        every sub-step picks uniformly (``rng.choice``) among the valid options. Returns
        (design space, decisions), or None if TVM's replay failed on the way (or, with ``screen``,
        a postprocessor rejected the program: such a candidate is never built, so an agent that
        proposed it would spend a trial on nothing). With ``preferred`` it mutates and crosses
        over candidates while keeping them valid."""
        ro = self.rollout(space)
        while not ro.done:
            k = ro.decision_index
            want = preferred[k] if ro.space is not None and preferred and k < len(preferred) else None
            if not ro.prefix and want is not None and ro.spec.accepts(want):
                ro.choose_decision(list(want) if isinstance(want, list) else want)
            else:
                ro.choose(rng.choice(ro.options()))
        if ro.error or (screen and not self.valid(ro.space, ro.decisions)):
            return None
        return ro.space, ro.decisions

    def sample_batch(
        self, attempts: "list[tuple[int | None, list[Any] | None, int]]", threads: int = 1
    ) -> "list[tuple[int, list] | None]":
        """``sample(random.Random(seed), space, preferred, screen=True)`` for each (space, preferred,
        seed), on up to ``threads`` threads; results in order, and the same for any thread count.

        Why: on a GPU 92% of uniform walks fail a postprocessor, so finding 16 valid ones takes
        200-270 walks (c2d-nchw: 10.4 s on one core of this project's VM, 41 ms a walk). TVM's replay
        and postprocessors release the GIL; on 2 threads here 120 walks took 2.6 s against 4.9 s."""

        def one(attempt: "tuple[int | None, list[Any] | None, int]") -> "tuple[int, list] | None":
            space, preferred, seed = attempt
            return self.sample(random.Random(seed), space=space, preferred=preferred, screen=True)

        if threads <= 1 or len(attempts) <= 1:
            return [one(a) for a in attempts]
        with ThreadPoolExecutor(min(threads, len(attempts)), thread_name_prefix="msgym-screen") as pool:
            return list(pool.map(one, attempts))

    def sample_distinct(self, rng: Any, n: int) -> list[tuple[int, list]]:
        """``n`` distinct uniform walks (for tests, benchmarks and data collection)."""
        out: list[tuple[int, list]] = []
        while len(out) < n:
            cand = self.sample(rng)
            if cand is not None and cand not in out:
                out.append(cand)
        return out

    def locate(self, trace: Trace, mod: Any) -> "tuple[int, list] | None":
        """The (design space, decisions) whose final program is ``mod`` and whose sampling
        instructions are ``trace``'s, if any: how a MetaSchedule trace becomes an msgym candidate."""
        decisions = [_plain(trace.decisions[i]) for i in trace.insts if i in trace.decisions]
        kinds = [i.kind.name for i in trace.insts if i in trace.decisions]
        for space, insts in enumerate(self.sampling):
            if [i.kind.name for i in insts] != kinds:
                continue
            try:
                program = self.program(space, decisions)
            except (InvalidCandidate, ValueError):
                continue
            if tvm_ffi.structural_equal(program.mod, mod):
                return space, decisions
        return None

    @functools.cached_property
    def sizes(self) -> list[int]:
        """Candidates in each space, counting later choices as they stand under the defaults."""
        out = []
        for space in range(len(self)):
            ro = Rollout(self, space)
            total = 1
            while not ro.done:
                total *= count_values(ro.spec)
                ro.choose_decision(ro.spec.default)
            out.append(total)
        return out


def _plain(decision: Any) -> Any:
    """TVM decision objects as plain Python ints / lists of ints."""
    if isinstance(decision, (list, tuple)) or hasattr(decision, "__len__"):
        return [int(x) for x in decision]
    return int(decision)


def _clone(postproc: Any) -> Any:
    """A thread's copy of a postprocessor (one written in Python without ``clone`` is shared)."""
    try:
        return postproc.clone()
    except Exception:  # noqa: BLE001 - e.g. a PyPostproc that does not implement clone
        return postproc


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    msg = next((line for line in reversed(text) if line.strip()), type(err).__name__)
    return f"{type(err).__name__}: {msg.strip()}"


class Rollout:
    """One walk through a design space, a sub-step at a time.

    ``spec`` is the pending decision and ``prefix`` the sub-step choices made for it;
    ``options()`` lists the valid values of the next sub-step and ``choose(v)`` takes one. When
    the walk ends, ``done`` is set and ``decisions`` holds one TVM decision per sampling instruction
    (or ``error`` says why the replay failed).
    """

    def __init__(self, spaces: DesignSpaces, space: int | None = None):
        self.spaces = spaces
        self.space: int | None = None
        self.decisions: list[Any] = []
        self.prefix: tuple[int, ...] = ()
        self.spec: DecisionSpec | None = None
        self.done = False
        self.error: str | None = None
        self.live: Schedule | None = None  # the program as the replay stands (for features)
        self._thread: threading.Thread | None = None
        self._to_main: queue.Queue = queue.Queue()
        self._to_replay: queue.Queue = queue.Queue()
        if space is None and len(spaces) > 1:
            self.spec = SpaceChoiceSpec(kind="DesignSpace", default=0, n_spaces=len(spaces))
        else:
            self._start(space or 0)

    # -- the caller's side ------------------------------------------------------------------
    def options(self) -> list[int]:
        assert self.spec is not None, "the rollout is done"
        return self.spec.options(self.prefix)

    def choose(self, option: int) -> None:
        """Take one sub-step; ``option`` must be one of ``options()``."""
        if self.done or self.spec is None:
            raise RuntimeError("the rollout is done")
        valid = self.options()
        if option not in valid:
            raise ValueError(f"{option} is not a valid option for {self.spec.kind}; valid: {valid}")
        self.prefix = (*self.prefix, option)
        if len(self.prefix) == self.spec.n_sub_steps:
            self._complete(self.spec.value(self.prefix))  # valid: every sub-step was checked

    def choose_decision(self, value: Any) -> None:
        """Complete the pending decision with a whole TVM decision value (one it accepts)."""
        if self.done or self.spec is None:
            raise RuntimeError("the rollout is done")
        if not self.spec.accepts(value):
            raise ValueError(f"{value!r} is not a valid {self.spec.kind} decision here")
        self._complete(value)

    def _complete(self, value: Any) -> None:
        spec, self.spec, self.prefix = self.spec, None, ()
        if isinstance(spec, SpaceChoiceSpec):
            self._start(int(value))
            return
        self.decisions.append(value)
        self._to_replay.put(value)
        self._wait()

    @property
    def decision_index(self) -> int:
        return len(self.decisions)

    def close(self) -> None:
        """Stop the replay thread of an unfinished walk."""
        if self._thread is not None and self._thread.is_alive():
            self._to_replay.put(_Abort)
            self._thread.join(timeout=5)
        self._thread = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # -- the replay thread ------------------------------------------------------------------
    def _start(self, space: int) -> None:
        if not 0 <= space < len(self.spaces):
            raise ValueError(f"design space {space} does not exist; the task has {len(self.spaces)}")
        self.space = space
        self.live = Schedule(self.spaces.space_mods[space], enable_check=False)
        self._thread = threading.Thread(target=self._replay, name="msgym-replay", daemon=True)
        self._thread.start()
        self._wait()

    def _wait(self) -> None:
        kind, payload = self._to_main.get()
        if kind == "decision":
            self.spec = payload
            if self.spec.n_sub_steps == 0:  # nothing to choose (e.g. a non-constant extent)
                self._complete(self.spec.value(()))
        else:
            self.done = True
            self.error = payload if kind == "error" else None
            self._thread.join()
            self._thread = None

    def _replay(self) -> None:
        trace = self.spaces.traces[self.space]
        try:
            trace.apply_to_schedule(self.live, remove_postproc=True, decision_provider=self._provide)
        except Exception as err:  # noqa: BLE001 - reported to the caller as the walk's error
            if "msgym-abort" in str(err):
                return
            self._to_main.put(("error", f"replay failed: {_first_line(err)}"))
            return
        self._to_main.put(("done", None))

    def _provide(self, inst: Any, inputs: list, attrs: list, decision: Any) -> Any:
        if decision is None or inst.kind.name not in SUPPORTED:
            return decision
        self._to_main.put(("decision", self._spec_for(inst, inputs, attrs, _plain(decision))))
        value = self._to_replay.get()
        if value is _Abort:
            raise _Abort("msgym-abort")
        return value

    def _spec_for(self, inst: Any, inputs: list, attrs: list, default: Any) -> DecisionSpec:
        kind = inst.kind.name
        if kind == "SamplePerfectTile":
            return TileSpec(
                kind=kind,
                default=default,
                loop_extent=self._extent(inputs[0]),
                n=int(attrs[0]),
                max_innermost_factor=int(attrs[1]),
            )
        if kind == "SamplePartitionedTile":
            return PartitionedTileSpec(
                kind=kind,
                default=default,
                loop_extent=self._extent(inputs[0]),
                n=int(attrs[0]),
                partition_pos=int(attrs[1]),
                innerpart_factor=int(attrs[2]),
            )
        if kind == "SampleCategorical":
            return CategoricalSpec(kind=kind, default=default, candidates=tuple(int(c) for c in attrs[0]))
        key = (self.space, freeze_decisions(self.decisions))
        locations = self.spaces.location_cache.get(key)
        if locations is None:
            locations = self.spaces.location_cache.put(key, probe_compute_locations(self.live, inputs[0]))
        return LocationSpec(kind=kind, default=default, locations=locations)

    def _extent(self, loop_rv: Any) -> int | None:
        extent = self.live.get(loop_rv).extent
        return int(extent.value) if isinstance(extent, tvm.tirx.IntImm) else None


def freeze_decisions(decisions: list[Any]) -> tuple:
    """Decisions as a hashable tuple (tile decisions become tuples)."""
    return tuple(tuple(d) if isinstance(d, list) else d for d in decisions)


@functools.lru_cache(maxsize=32)
def _spaces_for(task_key: str, task: Task, seed: int) -> DesignSpaces:
    return DesignSpaces(task, seed)


def design_spaces(task: Task, seed: int = 0) -> DesignSpaces:
    """The (cached) design spaces of a task; ``seed`` fixes the defaults TVM samples."""
    return _spaces_for(task.key, task, seed)
