"""The ganforge command line: it parses arguments and hands them to the command's handler.

Each command is a module ``ganforge.commands.<command>``: its arguments (``add_arguments(parser)``,
``HELP``) and its handler ``run(args)``. The modules import torch and the API only inside ``run``,
so that ``ganforge presets`` or a bad argument answers at once.

User errors (:class:`GanforgeError`) are printed as one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from importlib import import_module
from typing import Optional, Sequence

from ._version import __version__
from .errors import GanforgeError, GanforgeWarning, RunStopped, WriteFailed, os_error_line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, like every other user error (argparse prints usage too)
        command = self.prog.partition(" ")[2]
        raise GanforgeError(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")


# the commands in the order `ganforge --help` lists them; each is the module ganforge.commands.<name>
COMMANDS = ("train", "sample", "evaluate", "interpolate", "doctor", "report", "export", "card", "board", "synth",
            "translate", "upscale", "encoder", "project", "directions", "edit", "score", "verify", "anomaly",
            "dataset", "presets", "cache", "keys", "search", "predict", "classify")


def _parser() -> tuple[argparse.ArgumentParser, dict]:
    """The parser, and each command's own sub-parser: its arguments come from its module's
    ``add_arguments(parser)``, with ``HELP`` (and optionally ``DESCRIPTION``, ``EPILOG``)."""
    p = _Parser(prog="ganforge", description="Train, sample and evaluate GANs.")
    p.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    parsers = {}
    for name in COMMANDS:
        module = _command(name)
        parsers[name] = sub.add_parser(name, help=module.HELP, description=getattr(module, "DESCRIPTION", None),
                                       epilog=getattr(module, "EPILOG", None))
        module.add_arguments(parsers[name])
    return p, parsers


def _command(name: str):
    return import_module(f".commands.{name}", __package__)


def parse(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The arguments of ``argv`` (default: the process's). Positional arguments may come before or
    after the flags (``train --preset digits data.name=built --out a train.steps=40``): a command
    whose first parse leaves some over is parsed again with ``parse_intermixed_args``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p, parsers = _parser()
    args, rest = p.parse_known_args(argv)
    if rest:
        sub = parsers[args.command]
        if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):  # intermixed cannot nest
            p.error(f"unrecognized arguments: {' '.join(rest)}")
        args = sub.parse_intermixed_args(argv[argv.index(args.command) + 1:], argparse.Namespace(command=args.command))
    return args


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line, every command and its arguments (the documentation's
    command line reference is generated from it; ``main`` parses with the same)."""
    return _parser()[0]


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, GanforgeWarning):
        print(f"ganforge: warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: Optional[Sequence[str]] = None) -> int:
    warnings.showwarning = _show_warning
    try:
        args = parse(argv)
        return _command(args.command).run(args)
    except RunStopped as e:  # the run failed, not the user's input: its own exit code
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 3
    except WriteFailed as e:  # a full disk or a read-only directory: its own exit code too
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 4
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # an output that cannot be written (atomic writes leave nothing half-written)
        print(f"ganforge: error: cannot write {os_error_line(e)}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        print("ganforge: interrupted; the run's newest checkpoint is on disk", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
