"""Command-line options generated from a config dataclass, one ``--field-name`` per field, and a clean stop
on SIGTERM / Ctrl-C. Pure argparse, so any command (a Django one included) can use it."""
from __future__ import annotations

import ast
import inspect
import signal
import textwrap
from dataclasses import MISSING, fields
from typing import Callable

from .config import TrainConfig

NOT_OPTIONS = ("command",)   # set by the command itself: the command line that started the run


def parse_bool(value: str) -> bool:
    """argparse type for true/false options (1/0, yes/no, on/off too)."""
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value}")


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(parser, config_class: type[TrainConfig], defaults: dict | None = None) -> None:
    """One ``--field-name`` option per config field, its help the field's comment.

    Every option defaults to None (= not given), so :func:`from_options` can tell a given value from a default.
    ``defaults`` overrides the defaults shown (e.g. a run directory under the app's var/).
    """
    docs = field_comments(config_class)
    shown = {**{f.name: f.default if f.default is not MISSING else f.default_factory() for f in fields(config_class)},
             **(defaults or {})}
    for f in fields(config_class):
        if f.name in NOT_OPTIONS:
            continue
        kind = parse_bool if isinstance(shown[f.name], bool) else type(shown[f.name])
        text = docs.get(f.name, "")
        flag = {"nargs": "?", "const": True} if kind is parse_bool else {}   # "--resume" alone means true
        parser.add_argument(option(f.name), dest=f.name, type=kind, default=None, **flag,
                            help=f"{text} (default: {shown[f.name]!r})" if text else f"default: {shown[f.name]!r}")


def from_options(config_class: type[TrainConfig], options: dict, defaults: dict | None = None):
    """The config the parsed options describe: the given options over, when resuming, the run's saved
    settings, over ``defaults`` and the dataclass defaults."""
    given = {f.name: options[f.name] for f in fields(config_class)
             if f.name not in NOT_OPTIONS and options.get(f.name) is not None}
    base = dict(defaults or {})
    run_dir = given.get("run_dir", base.get("run_dir"))
    if given.get("resume") and run_dir:
        base.update(config_class.saved(run_dir))
    base.pop("command", None)     # each invocation records its own
    return config_class.from_dict({**base, **given})


def field_comments(config_class: type) -> dict[str, str]:
    """{field: the comment after it (and its continuation lines)} for a dataclass and its bases."""
    docs: dict[str, str] = {}
    for cls in reversed(config_class.__mro__[:-1]):
        lines = textwrap.dedent(inspect.getsource(cls)).splitlines()
        for node in ast.parse("\n".join(lines)).body[0].body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                comment = " ".join(_comments_from(lines, node.lineno - 1))
                if comment:   # a subclass that only changes a default keeps the base's text
                    docs[node.target.id] = comment
    return docs


def _comments_from(lines: list[str], first: int) -> list[str]:
    """The trailing comment of lines[first] and the comment-only lines below it that line up with it."""
    column = lines[first].find("  # ") + 2
    if column < 2:
        return []
    out = [lines[first][column + 1:].strip()]
    for line in lines[first + 1:]:
        if line.find("#") != column or line[:column].strip():
            break
        out.append(line[column + 1:].strip())
    return out


def stop_on_signals() -> Callable[[], bool]:
    """A should_stop() that turns true on SIGTERM or SIGINT: the run saves last/ and returns (resumable)."""
    stop = {"asked": False}

    def ask(signum, frame):
        stop["asked"] = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, ask)
    return lambda: stop["asked"]
