"""Every command, sub-command, option and positional argument of the CLI has a help text."""

from __future__ import annotations

import argparse

from proxymat.cli import build_parser


def undocumented(parser: argparse.ArgumentParser, path: str | None = None) -> list[str]:
    """``"PROG COMMAND... OPTION"`` for every argument (and sub-command) of ``parser``'s tree without help."""
    path = path or parser.prog
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helped.get(name):
                    missing.append(f"{path} {name}")
                missing += undocumented(sub, f"{path} {name}")
            continue
        if not action.help or action.help == argparse.SUPPRESS:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_has_help():
    assert undocumented(build_parser()) == []


def test_walker_finds_missing_help():
    parser = argparse.ArgumentParser(prog="p")
    parser.add_argument("--ok", help="fine")
    sub = parser.add_subparsers(dest="command")
    quiet = sub.add_parser("quiet")
    quiet.add_argument("--res", type=int)
    quiet.add_argument("name")
    deeper = sub.add_parser("deeper", help="has help").add_subparsers(dest="action")
    deeper.add_parser("leaf", help="leaf").add_argument("--seed", help=argparse.SUPPRESS)
    assert undocumented(parser) == ["p quiet", "p quiet --res", "p quiet name", "p deeper leaf --seed"]

