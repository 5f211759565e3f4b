"""The ``msgym`` command: ``msgym tasks``, ``tune``, ``bench``, ``export``, ``collect`` and ``costmodel``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from msgym.commands import CONFIG_DIR
from msgym.measure import Measurer, default_store
from msgym.search import AGENTS, DEFAULT_AGENT, parse_options
from msgym.search.loop import BUILD_LIMIT, check_build_limit
from msgym.tasks import TaskError
from msgym.tasks.sets import resolve
from msgym.tasks.task import SPACE_KINDS

TRAIN_CONFIG = CONFIG_DIR / "ppo.yaml"


def _cmd_tasks(args: argparse.Namespace) -> int:
    from msgym.space import design_spaces
    from msgym.tasks import BUILTIN_TASKS, get_task
    from msgym.tasks.builtin import suite_workload

    if args.from_torch:
        return _list_model_tasks(args)
    names = resolve(args.set) if args.set else (args.task or list(BUILTIN_TASKS))
    print(f"{'task':<14} {'MFLOP':>9} {'spaces':>6} {'default size':>13} {'extended size':>13}  description")
    for name in names:
        task = get_task(name, args.target)
        spaces, extended = design_spaces(task), design_spaces(get_task(task, space="extended"))
        workload = BUILTIN_TASKS.get(name) or suite_workload(name)
        summary = workload.summary if workload else task.spec
        print(
            f"{task.name:<14} {task.flops / 1e6:>9.2f} {len(spaces):>6} {sum(spaces.sizes):>13.3g} "
            f"{sum(extended.sizes):>13.3g}  {summary}"
        )
    return 0


def _list_model_tasks(args: argparse.Namespace) -> int:
    from msgym.space import design_spaces
    from msgym.tasks.torch_import import import_model, parse_shapes

    shapes = parse_shapes(args.input_shape) if args.input_shape else None
    tasks = import_model(args.from_torch, shapes, dtype=args.dtype, target=args.target)
    print(f"{len(tasks)} tasks of {args.from_torch} (weight: occurrences in the model)")
    print(f"{'weight':>6} {'MFLOP':>9} {'design-space size':>18}  task spec (usable as --task)")
    for mt in tasks:
        size = sum(design_spaces(mt.task).sizes)
        print(f"{mt.weight:>6} {mt.task.flops / 1e6:>9.2f} {size:>18.3g}  {mt.task.spec}")
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from msgym.envs.records import EpisodeRecord
    from msgym.search import tune
    from msgym.tasks import get_task

    task = get_task(args.task, args.target, args.space)
    print(f"tuning {task.describe()} with {args.agent} for {args.trials} trials (seed {args.seed})", flush=True)
    with _measurer(args) as measurer:
        result = tune(
            task,
            args.agent,
            trials=args.trials,
            seed=args.seed,
            logdir=args.logdir,
            agent_options=parse_options(args.agent_opt),
            measurer=measurer,
            drift_every=args.drift_every,
            verify_rounds=args.verify_rounds,
            build_limit=args.build_limit,
        )
    if result.best is None:
        print(f"no valid kernel in {result.trials} trials ({result.errors} errors)")
        return 1
    best: EpisodeRecord = result.best
    print(f"\nbest of {result.trials} trials in {result.wall_s:.1f} s ({result.errors} errors):")
    print(
        f"  latency {best.latency_s * 1e3:.3f} ms, {result.best_gflops:.1f} GFLOPS, "
        f"{best.speedup:.2f}x the unscheduled program"
    )
    print(f"  design space {best.space}, decisions {json.dumps(best.decisions)}")
    if result.verified_latency_s is not None:
        low, high = result.verified_ci95
        print(
            f"  verified (best {len(result.top)} re-timed, {args.verify_rounds} passes): "
            f"{result.verified_latency_s * 1e3:.3f} ms [{low * 1e3:.3f}, {high * 1e3:.3f}], "
            f"{result.verified_gflops:.1f} GFLOPS"
        )
        if result.verified_attempts > 1:  # verify.py: the machine was in a slow spell
            print(
                f"  (verified {result.verified_attempts} times: the kernels re-timed slower than in the loop, "
                f"{result.verified_slowdown:.2f}x in the try kept)"
            )
    if result.drift:
        worst = max(abs(c["drift"]) for c in result.drift)
        print(
            f"  machine drift (reference kernel, {len(result.drift)} checks): at most {worst:.1%}; "
            f"{len(result.flagged)} trial(s) flagged as measured while it was off"
        )
    if result.run_dir:
        print(
            f"  run folder {result.run_dir} (tensorboard --logdir {args.logdir}); "
            f"msgym export {result.run_dir} --database DIR writes it as a TVM database"
        )
    if args.show:
        print(best.replay(task).mod.script())
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from msgym.commands import bench

    tasks, agents = resolve(args.tasks), _split(args.agents)
    with _measurer(args) as measurer:
        out = bench.run(
            tasks,
            agents,
            args.trials,
            args.seeds,
            args.logdir,
            args.json,
            measurer,
            agent_options=_per_agent(parse_options(args.agent_opt)),
            verify_rounds=args.verify_rounds,
            drift_every=args.drift_every,
            fast_p=args.fast_p,
            target=args.target,
            space=args.space,
            reference_run=args.reference_run,
        )
    print(bench.leaderboard(out))
    stem = str(Path(args.json).with_suffix(""))
    print(f"wrote {args.json}, {stem}.md and {stem}.png")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from msgym.commands.export import export_run

    task, n = export_run(args.run, args.database, args.all, task=args.task)
    print(
        f"wrote {n} tuning record(s) of {task.name} to {args.database}; compile with\n"
        f"  tvm.s_tir.meta_schedule.tir_integration.compile_tir("
        f"ms.database.JSONDatabase(work_dir={str(args.database)!r}), mod, target)"
    )
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    from msgym.commands.collect import collect

    with _measurer(args) as measurer:
        out = collect(args.tasks, args.per_task, measurer, seed=args.seed, target=args.target)
    for name, counts in out.items():
        print(f"{name}: {counts['stored_ok']} successful measurements stored ({counts['measured_now']} new)")
    print(f"record store: {measurer.store.path}")
    return 0


def _cmd_dataset(args: argparse.Namespace) -> int:
    from msgym.cost_models import dataset
    from msgym.search import command_line

    if args.action == "export":
        if not args.tasks or not args.out:
            raise ValueError("dataset export needs --tasks (the tasks to export) and --out FILE.jsonl.gz")
        with _measurer(args) as measurer:
            n = dataset.export(measurer, resolve(args.tasks), args.out, command=command_line())
        print(f"wrote {n} measured candidates to {args.out}")
        return 0
    rows = dataset.load(args.file or [])
    for (task, cpu, threads), task_rows in sorted(dataset.by_task(rows).items(), key=lambda kv: str(kv[0])):
        on = f"{threads} threads" if threads else "TVM's default threads"
        print(f"{task:<24} {cpu:<16} {on:<22} {len(task_rows):5d} candidates")
    print(f"{len(rows)} rows in all (shipped: {dataset.SHIPPED})")
    return 0


def _cmd_costmodel(args: argparse.Namespace) -> int:
    with _measurer(args) as measurer:
        return _costmodel(args, measurer)


def _costmodel(args: argparse.Namespace, measurer: Measurer) -> int:
    from msgym.cost_models import MLPCostModel
    from msgym.cost_models.evaluation import evaluate, measured

    if args.action == "eval":
        if args.save:
            raise ValueError("--save is for costmodel train")
        out = evaluate(resolve(args.train), resolve(args.test), measurer)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
        for key in (
            "mlp_top1",
            "xgb_top1",
            "mlp_top5",
            "xgb_top5",
            "mlp_pairwise",
            "xgb_pairwise",
            "mlp_train_s",
            "xgb_train_s",
            "mlp_predictions_per_s",
            "score_512_s",
        ):
            print(f"{key:>24} {out[key]:.4g}")
        print(f"wrote {args.json}")
        return 0
    from msgym.cost_models import task_data
    from msgym.space import design_spaces
    from msgym.tasks import get_task

    if not args.save:
        raise ValueError("costmodel train needs --save PATH.pt")
    data = []
    for name in resolve(args.train):
        task = get_task(name)
        data.append(task_data(design_spaces(task), measured(task, measurer), measurer.baseline(task).latency_s))
    model = MLPCostModel()
    fit = model.fit(data)
    model.save(args.save)
    print(
        f"trained on {sum(len(d) for d in data)} candidates of {len(data)} task(s): loss "
        f"{fit['loss_first_epoch']:.4f} -> {fit['loss_last_epoch']:.4f}; saved {args.save}"
    )
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from msgym.commands.train import train

    if args.agent != "ppo":
        raise ValueError(f"msgym train trains ppo (got --agent {args.agent!r})")
    out = train(
        args.tasks,
        args.timesteps,
        n_envs=args.n_envs,
        reward=args.reward,
        cost_model=args.cost_model,
        runner=args.runner,
        trust_policy=args.trust_policy,
        logdir=args.logdir,
        save=args.save,
        seed=args.seed,
        config=args.config,
        overrides=parse_options(args.hp, "hyperparameter"),
        init=args.init,
        resume=args.resume,
        target=args.target,
        space=args.space,
    )
    print(
        f"trained {out['timesteps']} timesteps on {len(out['tasks'])} task(s) in {out['train_wall_s']:.0f} s; "
        f"policy {out['policy']} (metadata beside it); logs {out['run_dir']}"
    )
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from msgym.commands import evaluate

    with _measurer(args) as measurer:
        out = evaluate.run(
            args.policy,
            args.tasks,
            args.trials,
            args.seeds,
            args.logdir,
            args.json,
            measurer,
            reference_trials=args.reference_trials,
            agents=_split(args.agents) if args.agents else None,
            agent_options=_per_agent(parse_options(args.agent_opt)),
            trust_policy=args.trust_policy,
            verify_rounds=args.verify_rounds,
            target=args.target,
            space=args.space,
        )
    print(evaluate.table(out))
    print(f"wrote {args.json} and {Path(args.json).with_suffix('.md')}")
    return 0


def _cmd_tune_model(args: argparse.Namespace) -> int:
    from msgym.commands.tune_model import tune_model
    from msgym.tasks.torch_import import parse_shapes

    shapes = parse_shapes(args.input_shape) if args.input_shape else None
    with _measurer(args) as measurer:
        out = tune_model(
            args.model,
            measurer,
            shapes,
            agent=args.agent,
            trials=args.trials,
            seed=args.seed,
            with_metaschedule=args.with_metaschedule,
            agent_options=parse_options(args.agent_opt),
            verify_rounds=args.verify_rounds,
            target=args.target,
            space=args.space,
            max_trials_per_task=args.max_trials_per_task,
            work_dir=args.work_dir,
        )
    print(
        f"{out['model']} ({out['input_shapes']}), {args.trials} trials over "
        f"{sum(1 for t in out['tasks'] if t['trials'])} tasks with {args.agent}:"
    )
    for label, key in (
        ("PyTorch eager", "pytorch_eager_s"),
        ("TVM untuned", "tvm_untuned_s"),
        (f"TVM tuned by msgym ({args.agent})", "tvm_msgym_s"),
        ("TVM tuned by MetaSchedule", "tvm_metaschedule_s"),
    ):
        if key in out:
            low, high = out[key.replace("_s", "_ci95")]
            print(f"  {label:<36} {out[key] * 1e3:8.3f} ms  [{low * 1e3:.3f}, {high * 1e3:.3f}]")
    for ref, cell in out["fast_p"].items():
        fractions = ", ".join(f"{k} {v:.0f}" for k, v in cell.items() if k.startswith("fast_"))
        print(f"  against {ref}: {cell['speedup']:.2f}x ({fractions}; the model end to end)")
    if out["database"]:
        print(
            f"tuned database: {out['database']}; build the model with\n"
            f"  msgym.commands.tune_model.compile_model(Path({out['database']!r}), mod, target, "
            f"prepack={out['prepacked']})"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    return 0


def _measurer(args: argparse.Namespace) -> Measurer:
    """The command's measurer (closed when the command ends): the default record store."""
    return Measurer(runner=args.runner, store=default_store())


def _per_agent(options: dict) -> dict[str, dict]:
    """{"ppo.ent_coef": 0.02} -> {"ppo": {"ent_coef": 0.02}}."""
    out: dict[str, dict] = {}
    for key, value in options.items():
        agent, dot, option = key.partition(".")
        if not dot or not option:
            raise ValueError(f"--agent-opt takes AGENT.KEY=VALUE here, got {key!r}")
        out.setdefault(agent, {})[option] = value
    return out


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _build_limit(text: str) -> float | None:
    """--build-limit: a factor >= 1 of the median build (``check_build_limit``), or off."""
    if text.strip().lower() == "off":
        return None
    try:
        return check_build_limit(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a factor >= 1 of the median build (e.g. 20) or off") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="msgym", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    target_help = (
        'TVM target: "llvm" (this CPU, the default), "cuda" (this machine\'s GPU), a tag such as '
        'nvidia/nvidia-h100, or a JSON dict, e.g. \'{"kind": "cuda", "arch": "sm_90"}\''
    )
    drift_help = (
        "time a fixed reference kernel every N trials: the run records the machine's drift and flags "
        "the trials measured while it was off by more than 5%% (0: never)"
    )
    tasks_help = "a task set (msgym tasks --set), a file listing tasks, or comma-separated tasks T1,T2"
    trust_help = (
        "load a policy zip that msgym did not write on this machine (one you received): a policy file "
        "runs code when loaded, so only do this for files from someone you trust"
    )
    agent_opt_help = (
        "an option of the agent, repeatable: e.g. population=32 (evolutionary), "
        "policy=runs/RUN/policy.zip (ppo), num_trials_per_iter=16 (metaschedule)"
    )

    p = sub.add_parser("tasks", help="list tasks with FLOPs and design-space size")
    p.add_argument("task", nargs="*", help="tasks to list (default: the built-in suite)")
    p.add_argument(
        "--from-torch",
        metavar="MODEL",
        help="list the tuning tasks of a PyTorch model: a built-in "
        "(resnet-block, mobilenet-block, transformer-layer) or path/to/file.py:NAME",
    )
    p.add_argument(
        "--input-shape",
        action="append",
        help="with --from-torch: an input shape, e.g. 1,3,224,224 "
        "(repeat for several inputs; built-in models have defaults)",
    )
    p.add_argument("--dtype", default="float32", help="with --from-torch: the inputs' dtype")
    p.add_argument(
        "--set",
        help="list a task set (train, test, tiny-train, tiny-test), a file listing tasks, or comma-separated tasks",
    )
    p.add_argument("--target", default=None, help=target_help)
    p.set_defaults(func=_cmd_tasks)

    verify_help = (
        "at the end, re-time each run's best few candidates in this many passes, interleaved across "
        "runs, and report (rank by) those (0: do not)"
    )
    p = sub.add_parser("tune", help="search one task with one agent under a trial budget")
    p.add_argument("--task", required=True, help="built-in task name or path/to/file.py:NAME")
    p.add_argument("--agent", default=DEFAULT_AGENT, help=f"an agent ({', '.join(AGENTS)}; default {DEFAULT_AGENT})")
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--logdir", default="runs", help="TensorBoard/run folder root")
    p.add_argument("--target", default=None, help=target_help)
    p.add_argument("--no-show", dest="show", action="store_false", help="do not print the best program")
    p.add_argument("--drift-every", type=int, default=16, help=drift_help)
    p.add_argument("--verify-rounds", type=int, default=3, help=verify_help)
    p.add_argument("--agent-opt", action="append", metavar="KEY=VALUE", help=agent_opt_help)
    p.add_argument(
        "--build-limit",
        type=_build_limit,
        default=BUILD_LIMIT,
        metavar="F|off",
        help=f"once 8 builds have succeeded, abandon a build past F times their median, at least 30 s "
        f"(default {BUILD_LIMIT:g}; off: only the measurer's timeout)",
    )
    p.set_defaults(func=_cmd_tune)

    p = sub.add_parser("bench", help="every agent on every task and seed, equal trial budgets")
    p.add_argument("--tasks", required=True, help=tasks_help)
    p.add_argument("--agents", default="random,evolutionary", help="comma-separated agents")
    p.add_argument("--trials", type=int, default=64)
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..K-1 for each task and agent (intervals need several)")
    p.add_argument("--drift-every", type=int, default=16, help=drift_help)
    p.add_argument("--verify-rounds", type=int, default=3, help=verify_help)
    p.add_argument(
        "--no-fast-p",
        dest="fast_p",
        action="store_false",
        help="skip fast_p's references (PyTorch eager timed in the verification; a MetaSchedule run per "
        "task when metaschedule is not among --agents)",
    )
    p.add_argument(
        "--no-reference-run",
        dest="reference_run",
        action="store_false",
        help="fast_p without its MetaSchedule run per task when metaschedule is not among --agents "
        "(PyTorch eager stays)",
    )
    p.add_argument("--logdir", default="runs")
    p.add_argument("--target", default=None, help=target_help)
    p.add_argument(
        "--json",
        required=True,
        help="results JSON; the .md leaderboard and .png plot go beside it; "
        "runs already in it are kept (an interrupted bench resumes)",
    )
    p.add_argument(
        "--agent-opt",
        action="append",
        metavar="AGENT.KEY=VALUE",
        help="an option of one agent, repeatable: e.g. ppo.ent_coef=0.02",
    )
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("export", help="write a run's best schedule (or all its records) as a TVM database")
    p.add_argument("run", help="a run folder (runs/TASK__AGENT__seedS__TIME)")
    p.add_argument("--database", required=True, help="folder of the MetaSchedule JSON database to write")
    p.add_argument("--all", action="store_true", help="every successful record of the run, not only the best")
    p.add_argument(
        "--task",
        help="the run's task, named by you: needed when it is a Python file (path/to/kernel.py:"
        "NAME), which msgym does not import on the word of a run folder",
    )
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("collect", help="measure a diverse set of candidates per task (for cost models); resumable")
    p.add_argument("--tasks", required=True, help=tasks_help)
    p.add_argument("--per-task", type=int, default=128, help="candidates per task: half random, half evolved")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_collect)

    p = sub.add_parser("train", help="train one PPO policy across a task set (measured or predicted rewards)")
    p.add_argument("--agent", default="ppo")
    p.add_argument("--tasks", required=True, help="a task set (msgym tasks --set), a file listing tasks, or T1,T2")
    p.add_argument("--timesteps", type=int, required=True, help="environment steps in all (decisions, not episodes)")
    p.add_argument("--n-envs", type=int, default=1, help="parallel environments (SubprocVecEnv when > 1)")
    p.add_argument("--reward", choices=["measured", "predicted"], default="measured")
    p.add_argument("--cost-model", help="with --reward predicted: a saved MLP (.pt)")
    p.add_argument("--logdir", default="runs")
    p.add_argument("--save", help="where to save the policy (default: RUN_DIR/policy.zip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", help=f"hyperparameter file (default: {TRAIN_CONFIG}, shipped with msgym)")
    p.add_argument("--hp", action="append", metavar="KEY=VALUE", help="override a hyperparameter, repeatable")
    p.add_argument("--init", help="start from a saved policy (e.g. pretrained on predicted rewards)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    p.add_argument("--trust-policy", action="store_true", help=trust_help)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("tune-model", help="tune a PyTorch model's tasks, compile it, compare end to end")
    p.add_argument("model", help="a built-in model (resnet-block, mobilenet-block, transformer-layer) or file.py:NAME")
    p.add_argument("--input-shape", action="append", help="an input shape, e.g. 1,3,224,224 (repeat for several)")
    p.add_argument("--agent", default=DEFAULT_AGENT, help=f"an agent ({', '.join(AGENTS)}; default {DEFAULT_AGENT})")
    p.add_argument("--agent-opt", action="append", metavar="KEY=VALUE", help=agent_opt_help)
    p.add_argument("--trials", type=int, default=64, help="total trials, spread over the model's tasks")
    p.add_argument(
        "--max-trials-per-task",
        type=int,
        default=None,
        help="no task gets more trials than this (default: any task may get all of them)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--with-metaschedule",
        action="store_true",
        help="also MetaSchedule's own tune_relax/compile_relax at the same total trials",
    )
    p.add_argument("--verify-rounds", type=int, default=3, help=verify_help)
    p.add_argument(
        "--work-dir",
        help="keep the tuned database here (DIR/msgym_db; with --with-metaschedule also DIR/metaschedule); "
        "default: a scratch folder, removed at the end",
    )
    p.add_argument("--json", help="write the figures here")
    p.set_defaults(func=_cmd_tune_model)

    p = sub.add_parser("eval", help="a trained policy against untrained PPO, random, evolutionary and MetaSchedule")
    p.add_argument("--policy", default=None, help="a saved policy (default: the shipped ppo-pretrained one)")
    p.add_argument("--trust-policy", action="store_true", help=trust_help)
    p.add_argument("--tasks", required=True, help="a task set, a file listing tasks, or T1,T2 (unseen tasks)")
    p.add_argument("--trials", type=int, default=64)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--logdir", default="runs")
    p.add_argument(
        "--json", required=True, help="results JSON (an interrupted eval resumes from it); the .md beside it"
    )
    p.add_argument(
        "--agents",
        default=None,
        help="comma-separated agents to compare (default: ppo-pretrained, ppo, random, evolutionary, metaschedule)",
    )
    p.add_argument(
        "--agent-opt",
        action="append",
        metavar="AGENT.KEY=VALUE",
        help="an option of one agent, repeatable: e.g. evolutionary.cost_model=xgb",
    )
    p.add_argument(
        "--reference-trials",
        type=int,
        default=0,
        help="also find MetaSchedule's best after this many trials per task (cached) and count the "
        "measurements each agent needs to come within 1.10x of it (512 in the issue; slow)",
    )
    p.add_argument("--verify-rounds", type=int, default=3, help=verify_help)
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("dataset", help="the measured dataset cost models are pretrained on: list it, or export yours")
    p.add_argument("action", choices=["info", "export"])
    p.add_argument("--tasks", help="export: the tasks whose measurements (in the record store) to write: " + tasks_help)
    p.add_argument("--out", help="export: the file to write (.jsonl.gz)")
    p.add_argument("--file", action="append", help="info: also read this dataset file (repeatable)")
    p.set_defaults(func=_cmd_dataset)

    p = sub.add_parser("costmodel", help="train the MLP cost model, or evaluate it against XGBoost on held-out tasks")
    p.add_argument("action", choices=["train", "eval"])
    p.add_argument("--train", required=True, help="tasks to train on (measured: msgym collect): " + tasks_help)
    p.add_argument("--test", default="", help="eval: held-out tasks: " + tasks_help)
    p.add_argument("--json", default="runs/costmodel.json", help="eval: where to write the figures")
    p.add_argument("--save", help="train: where to save the MLP (.pt); use it as cost_model=PATH")
    p.set_defaults(func=_cmd_costmodel)
    for name, p in sub.choices.items():
        if name in ("collect", "eval", "train", "tune-model"):
            p.add_argument("--target", default=None, help=target_help)
        if name in ("tune", "bench", "eval", "train", "tune-model"):
            p.add_argument(
                "--space",
                default="default",
                choices=SPACE_KINDS,
                help="design space: default (MetaSchedule's) or extended (parallel granularity and vector "
                "width are decisions too; the metaschedule agent stays on the default, as the baseline)",
            )
        if name not in ("tasks", "export"):
            p.add_argument(
                "--runner",
                default="local",
                help="where kernels run: local (this machine), "
                "rpc://HOST:PORT/KEY (TVM's RPC tracker), or fake (nothing is built or run; latencies "
                "are made up from each program: for trying commands out, never for figures)",
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (TaskError, ValueError) as err:  # RunnerError and CostModelError are ValueErrors
        print(f"msgym: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
