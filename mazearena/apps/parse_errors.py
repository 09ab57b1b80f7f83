"""tyro's output in the style of the rest of the command line.

Parse errors come in the one-line style of every other error (``mazearena CMD: error: ...``) in place of tyro's
boxes: a bad flag value, an unknown option or command, a missing value, a config's own ``ValueError``. tyro
announces each failure to a hook before drawing its box (``tyro._errors.on_parse_error``, an experimental
interface); the hook turns the event into one line. Should a later tyro change that interface, its boxes come back
(still exit code 2): ``tests/apps/test_bad_input.py`` holds the one-line form on the tyro we install. Help text is
reflowed (:func:`reflow_help`)."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
import typing
from collections.abc import Iterator


class ParseError(Exception):
    """A command line tyro refused, as one line."""


def _flag(argument) -> str:
    lowered = argument.lowered
    if argument.is_positional():
        return str(lowered.metavar)
    return max(lowered.name_or_flags, key=len)


def flags_of(config: type, prefix: str = "--") -> list[str]:
    """Every ``--section.field`` flag of a config dataclass (on/off ones in both forms, ``--amp``, ``--no-amp``)."""
    out = []
    hints = typing.get_type_hints(config)
    for field in dataclasses.fields(config):
        name = prefix + field.name.replace("_", "-")
        kind = hints.get(field.name)
        if dataclasses.is_dataclass(kind):
            out += flags_of(kind, name + ".")
        elif kind is bool:
            out += [name, prefix + "no-" + name[len(prefix) :]]
        else:
            out.append(name)
    return out


def _unrecognized(tokens: list[str], prog: str, known: list[str], commands: list[str], args: list[str]) -> str:
    options = [t for t in tokens if t.startswith("-")]
    if commands and not options:  # ``mazearena evall``
        close = difflib.get_close_matches(tokens[0], commands, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown command {tokens[0]!r}; {hint}commands: {', '.join(commands)}"
    if options:
        message = f"unrecognized option{'s' * (len(options) > 1)} {' '.join(options)}"
        close = difflib.get_close_matches(options[0].split("=")[0], known, n=2, cutoff=0.6)
        if close:
            message += f"; did you mean {' or '.join(close)}?"
        return f"{message} ({prog} --help lists the options)"
    value = tokens[0]
    at = args.index(value) if value in args else 0
    option = next((i for i in range(at - 1, -1, -1) if args[i].startswith("--")), None)
    if option == at - 1 and args[option] in known:  # a known option followed directly by a value: an on/off flag
        section, _, name = args[option][2:].rpartition(".")
        on = "--" + (section + "." if section else "") + name.removeprefix("no-")
        off = on[: len(on) - len(name.removeprefix("no-"))] + "no-" + name.removeprefix("no-")
        return f"{args[option]} is on or off and takes no value ({on} or {off}); got {value!r}"
    if option is not None and "=" not in args[option]:
        return f"{args[option]} takes one value; got another, {value!r} (quote a value with spaces)"
    return f"unexpected value {value!r} ({prog} --help lists the options)"


def describe(event, prog: str, known: list[str] = (), commands: list[str] = (), args: list[str] = ()) -> str | None:
    """The event as one line, or None for a kind of event this does not know (tyro's box then shows)."""
    from tyro import _errors as e

    if isinstance(event, e.UnrecognizedArgs):
        return _unrecognized(list(event.tokens), prog, list(known), list(commands), list(args))
    if isinstance(event, e.InstantiationFailure):
        where = f"{_flag(event.argument)}: " if event.argument is not None else ""
        return where + event.message
    if isinstance(event, e.InvalidChoice):
        return f"{_flag(event.argument)} must be one of {', '.join(event.choices)}; got {event.value!r}"
    if isinstance(event, e.BadValue):
        if event.offending_value is None:
            return f"{_flag(event.argument)} needs a value"
        return f"{_flag(event.argument)} takes no value; got {event.offending_value!r}"
    if isinstance(event, e.MissingArgs):
        names = ", ".join(_flag(a.arg) for a in event.missing_arguments)
        return f"missing {names} ({prog} --help)"
    if isinstance(event, e.MissingSubcommand):
        names = ", ".join(event.subcommand_spec.parser_from_name)
        return f"name a command: {names} ({prog} --help)"
    return None


@contextlib.contextmanager
def one_line(prog: str, args: list[str], config: type | None = None, commands: list[str] = ()) -> Iterator[None]:
    """Within the block, a parse error tyro would draw as a box raises :class:`ParseError` with one line: ``prog``
    parsing ``args`` into ``config`` (its flags are the "did you mean" candidates) or into one of ``commands``."""
    try:
        from tyro import _errors
    except ImportError:  # a tyro without the hook: its boxes
        yield
        return
    known = flags_of(config) if config is not None else []

    def hook(event) -> None:
        try:
            line = describe(event, prog, known, commands, args)
        except (AttributeError, TypeError):  # the event's fields changed: tyro's box
            return
        if line is not None:
            raise ParseError(line)

    with _errors.on_parse_error(hook):
        yield


_LIST_ITEM = re.compile(r"^([-*•]|\d+[.)])\s")


def join_lines(helptext: str) -> str:
    """Help text as tyro should print it: each paragraph one line, for the terminal to wrap at its own width. The
    line breaks of a docstring are its source's (tyro kept a break before every line that starts with other than a
    letter, such as an indented one or a ````code```` span, so help broke mid-sentence); kept: blank lines between
    paragraphs and the lines of a list."""
    out: list[str] = []
    for raw in helptext.split("\n"):
        line = raw.strip()
        if not line:
            if out and out[-1] != "\n\n":
                out.append("\n\n")
        elif not out or out[-1] == "\n\n":
            out.append(line)
        else:
            out.append(("\n" if _LIST_ITEM.match(line) else " ") + line)
    return "".join(out).strip().replace("``", "`")  # reST's literal marks, as Markdown's


def reflow_help() -> None:
    """Have tyro join the lines of help text with :func:`join_lines` (its ``_strings.remove_single_line_breaks``,
    an internal that every help text goes through); a tyro without it keeps its own."""
    try:
        from tyro import _strings
    except ImportError:
        return
    if hasattr(_strings, "remove_single_line_breaks"):
        _strings.remove_single_line_breaks = join_lines
