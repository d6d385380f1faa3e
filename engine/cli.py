"""``python -m engine <command> ...``: the headless front-end to the engine.

Every module in ``engine/commands/`` is one subcommand. It defines ``NAME`` (the word typed after
``python -m engine``), ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args, events) -> int``. Modules
import heavy libraries (torch) inside ``run`` only, so ``python -m engine import ...`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import engine.commands
from engine.events import make_sink


def _command_modules():
    for info in sorted(pkgutil.iter_modules(engine.commands.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"engine.commands.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine",
        description="CrowdGUI's engine: import, density maps, training, counting and evaluation.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules():
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.add_argument("--events", choices=["text", "jsonl"], default="text",
                             help="jsonl: print one JSON object per line (for the GUI); text: progress bar")
        command.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    events = make_sink(args.events)
    try:
        return int(args._run(args, events) or 0)
    except KeyboardInterrupt:
        events.error("interrupted")
        return 130
    except Exception as exc:  # the last line of defence: a plain message, not a traceback, for the GUI
        events.error(f"{type(exc).__name__}: {exc}")
        if args.events != "jsonl":
            raise
        return 1
    finally:
        events.close()


if __name__ == "__main__":
    sys.exit(main())
