"""``mazearena-torchrun [TORCHRUN OPTIONS] train [TRAIN OPTIONS]``: PyTorch's ``torchrun`` launching
``mazearena train`` data-parallel (:mod:`mazearena.training.distributed`), with the exits of every other command.

``torchrun ... -m mazearena train`` works as well; what this adds is at the end. On SIGTERM or SIGINT torchrun's
launcher passes the signal to its processes (they finish the iteration together, save a checkpoint, and process 0
says how to resume), then raises its ``SignalException``: a traceback and exit code 1, which a scheduler reads as a
crash. Here the launcher exits quietly with 128 + the signal (143 for SIGTERM), as a one-process run does; when a
process fails, with that process's exit code and one line (its own error is printed above it)."""

from __future__ import annotations

import sys

USAGE = "mazearena-torchrun [TORCHRUN OPTIONS] train [TRAIN OPTIONS]"


def _error(message: str) -> None:
    print(f"mazearena-torchrun: error: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv in (["-h"], ["--help"]):
        print(f"usage: {USAGE}\n\n{__doc__.split(chr(10), 2)[2].strip()}\n\ntorchrun's options: torchrun --help")
        return 0
    try:
        args = parse_args(argv)
    except SystemExit as e:  # argparse has printed its usage line
        return int(e.code or 0)
    if args.module or args.training_script != "train":
        _error(f"the command is {USAGE}; got {' '.join(argv[-3:])!r}")
        return 2
    args.module, args.training_script = True, "mazearena"
    args.training_script_args = ["train", *args.training_script_args]
    try:
        run(args)
    except SignalException as e:  # the processes have saved and said how to resume
        return 128 + int(e.sigval)
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        code = failure.exitcode
        how = f"was stopped by signal {-code}" if code < 0 else f"exited with code {code}"
        _error(f"process {rank} {how} (its own message is above)")
        return 128 - code if code < 0 else code
    return 0


if __name__ == "__main__":
    sys.exit(main())
