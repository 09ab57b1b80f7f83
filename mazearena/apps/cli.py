"""``mazearena``: the command line. Each subcommand is a typed config; ``mazearena SUBCOMMAND --help``."""

from __future__ import annotations

import sys
from typing import NoReturn

import tyro
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from mazearena.apps.bench import BENCHMARKS
from mazearena.apps.bench.peers import BenchConfig
from mazearena.apps.demo import DemoConfig
from mazearena.apps.export import ExportConfig
from mazearena.apps.parse_errors import ParseError, one_line, reflow_help
from mazearena.apps.play import PlayConfig
from mazearena.apps.sweep import SweepConfig
from mazearena.apps.watch import WatchConfig
from mazearena.checks import MissingExtra, UserError
from mazearena.evaluation.compare import CompareConfig
from mazearena.evaluation.evaluate import EvalConfig
from mazearena.training.algorithms import team_algorithms
from mazearena.training.config import SECTIONS, TrainConfig, load_config

console = Console(width=None if sys.stdout.isatty() else 120)  # piped output (make, CI logs): wide tables
reflow_help()  # --help: paragraphs wrapped at the terminal's width, not at the source's line breaks


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def demo(cfg: DemoConfig) -> None:
    from mazearena.apps.demo import run_demo

    with _progress() as bar:

        def track(name: str, total: int):
            task = bar.add_task(f"{name} playing", total=total)
            return lambda k: bar.advance(task, k)

        summary = run_demo(cfg, progress=track)
    table = Table(title=f"{cfg.env} {cfg.size}x{cfg.size}, held-out levels")
    for col in ("agent", "episodes", "success (95% CI)", "mean return", "mean length"):
        table.add_column(col)
    for r in summary["agents"]:
        lo, hi = r["success_ci95"]
        table.add_row(
            r["agent"],
            str(r["episodes"]),
            f"{r['success_rate']:.3f} ({lo:.3f}–{hi:.3f})",
            f"{r['mean_return']:.3f}",
            f"{r['mean_length']:.1f}",
        )
    console.print(table)
    console.print(f"wrote {cfg.out}/summary.md, summary.json" + (", demo.gif, maze.png" if cfg.gif_episodes else ""))


def play(cfg: PlayConfig) -> None:
    from mazearena.apps.play import play as run_play

    result = run_play(cfg)
    if cfg.env == "arena":
        returns = ", ".join(f"{e['return']:.2f}" for e in result.episodes) or "none"
        console.print(f"{result.steps} steps, {len(result.episodes)} games finished, your returns: {returns}")
        return
    wins = sum(e["success"] for e in result.episodes)
    console.print(f"{result.steps} steps, {len(result.episodes)} episodes finished, {wins} solved")


def bench(cfg) -> None:
    name = next(k for k, (config, _) in BENCHMARKS.items() if isinstance(cfg, config))
    if name != "peers":
        path = BENCHMARKS[name][1](cfg)
        console.print(path.read_text(), markup=False, highlight=False)
        console.print(f"wrote {path.with_suffix('.json')} and {path.name}")
        return
    from mazearena.apps.bench.peers import run_bench
    from mazearena.apps.bench.peers_report import TABLES, format_row

    with console.status("benchmarking") as status:
        report = run_bench(cfg, progress=lambda key: status.update(f"benchmarking {key}"))
    for table_name, (unit, versus) in TABLES.items():
        rows = [r for r in report["rows"] if r["table"] == table_name]
        if rows:
            table = Table(title=f"{table_name}s: {unit}")
            for col in ("what", unit, versus):
                table.add_column(col)
            for row in rows:
                table.add_row(*format_row(row))
            console.print(table)
    console.print(f"wrote {cfg.out}/bench.json and bench.md")


def train(cfg: TrainConfig) -> None:
    import json

    from mazearena.training.distributed import writes
    from mazearena.training.loop import TrainingInterrupted
    from mazearena.training.loop import train as run_training

    try:
        run_dir = run_training(cfg, handle_signals=True)
    except TrainingInterrupted as e:  # checkpoint saved: one line, and the signal's exit code (130, 143)
        if writes():
            Console(stderr=True, soft_wrap=True).print(f"mazearena train: {e}", highlight=False)
        raise SystemExit(e.exit_code) from None
    if not writes():  # under torchrun, process 0 reports
        return
    report = json.loads((run_dir / "report.json").read_text())
    summary, trained = report["summary"], load_config(run_dir / "config.yaml", cfg.trust_code)  # the run's own
    if trained.task.has_success:
        console.print(
            f"success: training levels {summary['train_success']:.3f}, held-out levels "
            f"{summary['test_success']:.3f} (gap {summary['generalisation_gap']:+.3f})"
        )
    else:  # an env without levels or success: its returns
        console.print(f"mean return over the final evaluation episodes: {summary['test_return']:.2f}")
    # one line however long the path: a log is searched for it, and a terminal wraps it anyway
    console.print(f"wrote {run_dir}/report.md, curve.png, checkpoints/; resume with --resume {run_dir}", soft_wrap=True)


def watch(cfg: WatchConfig) -> None:
    from mazearena.apps.watch import watch as run_watch

    results = run_watch(cfg)
    wins = sum(r["success"] for r in results)
    verb = "won" if results and "winner" in results[0] else "solved"
    console.print(
        f"{len(results)} episodes, {wins} {verb}, mean return "
        f"{sum(r['return'] for r in results) / max(len(results), 1):.3f}"
        + (f"; wrote {cfg.record}" if cfg.record else "")
    )


def export(cfg: ExportConfig) -> None:
    from mazearena.apps.export import export as run_export

    with console.status("exporting"):
        out = run_export(cfg)
    files = ", ".join(sorted(p.name for p in out.iterdir()))
    console.print(f"wrote {out}/: {files}", soft_wrap=True)


def eval_command(cfg: EvalConfig) -> None:
    import json

    from mazearena.evaluation.evaluate import evaluate as run_eval

    if cfg.progress:
        with _progress() as bar:
            out = run_eval(cfg, track=lambda name, total: _advance(bar, bar.add_task(name, total=total)))
    else:
        out = run_eval(cfg)
    summary = json.loads((out / "summary.json").read_text())
    has = summary.get("has_success", True)  # else the envs have returns only
    what = "success" if has else "return"
    table = Table(title=f"{what} per method and suite, no perturbation (95% CI over pooled episodes)")
    columns = ("success (95% CI)", "mean return") if has else ("return (95% CI)",)
    for col in ("method", "mode", "suite", "episodes", *columns, "mean length"):
        table.add_column(col)
    for c in summary["conditions"]:
        if c["perturbation"] == "none":
            lo, hi = c["success_ci95"] if has else c["return_ci95"]
            cells = (
                (f"{c['success_rate']:.3f} ({lo:.3f}–{hi:.3f})", f"{c['mean_return']:.3f}")
                if has
                else (f"{c['mean_return']:.3f} ({lo:.3f}–{hi:.3f})",)
            )
            table.add_row(c["method"], c["mode"], c["suite"], str(c["episodes"]), *cells, f"{c['mean_length']:.1f}")
    console.print(table)
    for m, w in summary.get("worst_case", {}).items():
        low, high = w["ratio_ci95"]
        console.print(
            f"{m}: worst case {w['perturbation']} at severity {w['severity']:g}: {w['ratio']:.2f} "
            f"({low:.2f}–{high:.2f}) of clean" + (" (within the noise)" if high >= 1 else "")
        )
    console.print(f"wrote {out}/report.md, summary.json, episodes.csv and plots")


def compare(cfg: CompareConfig) -> None:
    import json

    from mazearena.evaluation.compare import compare as run_compare

    out = run_compare(cfg)
    summary = json.loads((out / "summary.json").read_text())
    table = Table(title="runs side by side (mean over each method's runs)")
    success = summary["score"] == "test_success"
    keys = ("test_success", "train_success", "generalisation_gap") if success else ("test_return", "train_return")
    names = ("held-out success", "training success", "gap", "steps to 95%") if success else keys
    for col in ("method", "runs", *(n.replace("_", " ") for n in names)):
        table.add_column(col)
    for m, row in summary["per_method"].items():
        cells = ["—" if row.get(k) is None else f"{row[k]:.3f}" for k in keys]
        if success:
            cells.append("—" if row.get("steps_to_95") is None else f"{row['steps_to_95']:,.0f}")
        table.add_row(m, str(row["runs"]), *cells)
    console.print(table)
    for p in summary["probability_of_improvement"]:
        console.print(f"P({p['x']} > {p['y']}) = {p['value']:.3f} ({p['low']:.3f}–{p['high']:.3f})")
    if summary["improvement_note"]:
        console.print(summary["improvement_note"], highlight=False)
    console.print(f"wrote {out}/report.md, summary.json and learning-curve plots")


def sweep(cfg: SweepConfig) -> None:
    import json

    from mazearena.apps.sweep import sweep as run_sweep

    out = run_sweep(cfg, say=lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
    result = json.loads((out / "sweep.json").read_text())
    table = Table(title=f"sweep {out.name}: configurations by IQM of success (train and held-out suites)")
    for col in ("rank", "configuration", "runs", "IQM (95% CI)"):
        table.add_column(col)
    for i, r in enumerate(result["ranking"], 1):
        iqm = r["iqm"]
        interval = f"{iqm['value']:.3f} ({iqm['low']:.3f}–{iqm['high']:.3f})"
        table.add_row(str(i), r["configuration"], str(r["runs"]), interval)
    console.print(table)
    for c in result["crashed"]:
        console.print(f"[red]crashed[/]: {c['trial']}: {c['error']}", highlight=False)
    if result["unfinished"]:
        console.print(f"{len(result['unfinished'])} trials unfinished: run again with --resume")
    console.print(f"wrote {out}/sweep.md, sweep.json, sweep.png; trials in {out}/")


def _advance(bar: Progress, task):
    return lambda k=1: bar.advance(task, k)


COMMANDS = {
    "train": train,
    "eval": eval_command,
    "compare": compare,
    "sweep": sweep,
    "watch": watch,
    "export": export,
    "demo": demo,
    "play": play,
    "bench": bench,
}
CONFIGS = {
    "train": TrainConfig,
    "eval": EvalConfig,
    "compare": CompareConfig,
    "sweep": SweepConfig,
    "watch": WatchConfig,
    "export": ExportConfig,
    "demo": DemoConfig,
    "play": PlayConfig,
    "bench": BenchConfig,
}


def print_error(command: str, message: str) -> None:
    """``mazearena COMMAND: error: MESSAGE`` on stderr, one line; the message as written (brackets such as an
    extra's ``[eval]`` or a path's ``[seed=1]`` are text, not console styles)."""
    Console(stderr=True, soft_wrap=True).print(
        f"[bold red]{' '.join(('mazearena', command)).strip()}: error:[/] {escape(message)}", highlight=False
    )


def usage_error(message: str, command: str = "train") -> NoReturn:
    """Bad input on the command line: one line on stderr, exit code 2 (as argparse and tyro do)."""
    print_error(command, message)
    raise SystemExit(2)


def _shorthands(args: list[str]) -> list[str]:
    """``--env arena`` (``--kind arena``, train a team on arenas: ``--algo mappo`` unless another algorithm that
    trains teams is named), ``--env maze`` (the default) and ``--mode M`` (``--arena.mode M``) as the typed options
    they stand for."""
    out, i = [], 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in ("--env", "--mode"):
            if not eq:
                if i + 1 >= len(args):
                    usage_error(f"{name} needs a value")
                value, i = args[i + 1], i + 1
            if name == "--mode":
                out += ["--arena.mode", value]
            elif value == "arena":
                algo, teams = _option(args, "--algo"), team_algorithms()
                if algo not in (None, *teams):
                    usage_error(f"--env arena trains with --algo {' or '.join(teams)}, got --algo {algo}")
                out += ["--kind", "arena", *(["--algo", teams[0]] if algo is None else [])]
            elif value != "maze":
                usage_error(f"--env must be 'maze' or 'arena', got {value!r}")
        else:
            out.append(arg)
        i += 1
    return out


def _option(args: list[str], name: str) -> str | None:
    """The value given to ``name`` (``name VALUE`` or ``name=VALUE``), if any."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _train_args(args: list[str]):
    """``mazearena train [--config FILE.yaml] [overrides]``: the YAML file gives the defaults."""
    from mazearena.training.config import find_config

    rest, default = _shorthands(list(args)), None
    if "--config" in rest:
        i = rest.index("--config")
        if i + 1 >= len(rest):
            usage_error("--config needs a YAML file")
        try:
            default = load_config(find_config(rest[i + 1]), trust_code="--trust-code" in rest)
        except UserError as e:
            usage_error(str(e))
        del rest[i : i + 2]
    with one_line("mazearena train", rest, TrainConfig):
        cfg = tyro.cli(
            TrainConfig,
            args=rest,
            default=default,
            prog="mazearena train",
            description="Train an agent on a maze, evaluate it on held-out levels, write a run folder. "
            "--config FILE.yaml (or a shipped example by name: ppo_maze9, dqn_maze7, mappo_tag, a2c_tag, "
            "selfplay_ctf) loads the defaults. "
            "--env arena --mode tag|ctf|combat is short for --kind arena --algo mappo --arena.mode ... (or --algo a2c)",
        )
    cfg.given = frozenset(_given(rest, cfg))
    for name in sorted(cfg.given):  # a section's option given, even at its default value, must apply to the run
        section = name.partition(".")[0]
        if "." in name and section in SECTIONS and section not in cfg.sections:
            usage_error(cfg.unused_message(name))
    return cfg


def _given(args: list[str], cfg: TrainConfig) -> set[str]:
    """The fields (``ppo.num_envs``, ``progress``) the command line gives, whatever their value: ``--resume``
    applies them and refuses the rest even where a value is the default."""
    fields, out = set(cfg.flat_dict()), set()
    for arg in args:
        if not arg.startswith("--"):
            continue
        section, _, name = arg[2:].partition("=")[0].rpartition(".")
        name = name.replace("-", "_")
        for candidate in (name, name.removeprefix("no_")):
            if (field := f"{section}.{candidate}" if section else candidate) in fields:
                out.add(field)
                break
    return out


def _bench_args(args: list[str]):
    """``mazearena bench [peers|engine|train|marl|eval|ablation] [options]``: ``peers`` when none is named."""
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
        args = ["peers", *args]
    with one_line("mazearena bench", args, commands=list(BENCHMARKS)):
        return tyro.extras.subcommand_cli_from_dict(
            {k: config for k, (config, _) in BENCHMARKS.items()},
            args=args,
            prog="mazearena bench",
            description="Speed measurements; with no subcommand (or only options), peers.",
        )


def _parse(args: list[str]):
    """The command's config; a parse error (a config's ValueError raised in __post_init__ too) is one line on
    stderr and exit code 2."""
    command = args[0] if args and args[0] in CONFIGS else None
    try:
        if command == "train":
            return _train_args(args[1:])
        if command == "bench":
            return _bench_args(args[1:])
        prog = " ".join(("mazearena", command or "")).strip()
        with one_line(prog, args, CONFIGS.get(command), commands=[] if command else list(CONFIGS)):
            return tyro.extras.subcommand_cli_from_dict(
                CONFIGS, args=args, prog="mazearena", description="mazearena: mazes and arenas for RL"
            )
    except ParseError as e:
        usage_error(str(e), command or "")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-V"]):
        import mazearena

        print(f"mazearena {mazearena.__version__}")
        return 0
    cfg = _parse(args)
    name = "bench" if any(isinstance(cfg, c) for c, _ in BENCHMARKS.values()) else None
    name = name or next(k for k, v in CONFIGS.items() if isinstance(cfg, v))
    try:
        COMMANDS[name](cfg)
    except (UserError, MissingExtra) as e:  # bad input or setup; anything else is a bug: its traceback shows
        print_error(name, str(e))
        return getattr(e, "exit_code", 2)  # 2: bad input; 1: the machine (a run folder that cannot be written)
    except KeyboardInterrupt:  # a second Ctrl-C (the first one stops training at its next checkpoint)
        Console(stderr=True, soft_wrap=True).print(f"mazearena {name}: interrupted", highlight=False)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
