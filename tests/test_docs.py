"""Every fenced code block in README.md and docs/*.md runs.

- ``python`` blocks are executed in a temporary folder, made small by the
  substitutions in ``SHRINK`` (each must be used, so the table cannot rot);
- ``json`` blocks are parsed; graph documents are validated and evaluated;
- ``toml`` blocks are parsed; an entry point table names the plugin group;
- ``bash`` blocks: each ``proxymat`` command (also ``python -m proxymat.cli``
  under torchrun) is parsed by the CLI parser, the cheap listing commands are
  run (from the repository root), generator names are checked (a command's
  ``--plugin`` files count); other programs must be in ``SETUP``.

A block that cannot run here opts out with ``<!-- docs-test: skip REASON -->``
on the line before its fence; the opt-outs are counted (``OPT_OUTS``).
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from proxymat.cli import build_parser, main
from proxymat.examples import example_target_path
from proxymat.graph import Graph
from proxymat.nodes.generators import generator_specs
from proxymat.plugin_loader import GROUP, using_plugins

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OPT_OUTS = 0  # blocks marked "docs-test: skip"; raise only for a block that truly cannot run in a test
SKIP_MARK = re.compile(r"<!--\s*docs-test:\s*skip\s+(\S.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")

SHRINK: list[tuple[str, str]] = [
    ("OptimizeConfig(res=256)", "OptimizeConfig(res=32, iters1=2, iters2=2, iters3=2, samples=2, sweep_iters=2)"),
    ("evaluate(256)", "evaluate(32)"),
    ('read_image("photo.png"), 256)', 'read_image("photo.png"), 32)'),
    ("res=1024", "res=32"),
    ("steps=6000", "steps=2, val_size=4, checkpoint_every=1"),
    ("ProxyConfig(n_params=len(proxy_inputs(spec)), res=64)", "ProxyConfig(n_params=len(proxy_inputs(spec)), res=16)"),
    ('"photo.png"', repr(str(example_target_path("leather")))),
    ('"docs/examples/', '"' + str(ROOT / "docs" / "examples") + "/"),
]
"""Literal replacements applied to python blocks, in order, so they run in a second or two."""

CHEAP = {"nodes", "generators", "examples"}
"""Sub-commands run for real (they only list things); the others are parsed."""

SETUP = {"python3", ".venv/bin/pip", ".venv/bin/python", "pip", "npm", "cd", "mkdir", "torchrun"}
"""Programs other than proxymat that shell blocks may call (setup steps, not run here)."""


@dataclass(frozen=True)
class Block:
    file: Path
    line: int
    lang: str
    text: str
    skip: str | None

    def __str__(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    """Fenced blocks of a markdown file, with the opt-out reason from the line before each fence."""
    found, lines, i = [], path.read_text().splitlines(), 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent = len(opening.group(1))  # fences inside list items are indented
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        mark = SKIP_MARK.search(lines[i - 1]) if i else None
        text = "\n".join(line[indent:] for line in lines[i + 1:end]) + "\n"
        found.append(Block(path, i + 1, opening.group(2), text, mark.group(1) if mark else None))
        i = end + 1
    return found


ALL = [b for path in DOCS for b in blocks_of(path)]


def _of(lang: str) -> list[Block]:
    return [pytest.param(b, id=str(b)) for b in ALL if b.lang == lang and b.skip is None]


def test_blocks_are_known_and_opt_outs_counted():
    assert len(ALL) >= 11
    unknown = [f"{b} ({b.lang or 'no language'})" for b in ALL if b.lang not in ("python", "json", "bash", "toml")]
    assert unknown == [], "give each block a language this test runs, or a docs-test: skip marker"
    assert sum(b.skip is not None for b in ALL) == OPT_OUTS


def shrink(code: str) -> tuple[str, set[str]]:
    """``code`` with the ``SHRINK`` substitutions applied in order, and the ones that matched."""
    used = set()
    for old, new in SHRINK:
        if old in code:
            used.add(old)
            code = code.replace(old, new)
    return code, used


def test_every_shrink_is_used():
    used = set().union(*(shrink(b.text)[1] for b in ALL if b.lang == "python"))
    assert [old for old, _ in SHRINK if old not in used] == []


@pytest.mark.parametrize("block", _of("python"))
def test_python_block_runs(block, tmp_path, monkeypatch):
    code, _ = shrink(block.text)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    exec(compile(code, str(block), "exec"), namespace)  # noqa: S102 - our own docs
    saved = re.findall(r"\.save\(\"([^\"]+)\"", code) + re.findall(r"export_material\([^,]+, \"([^\"]+)\"", code)
    assert all((tmp_path / name).exists() for name in saved), saved


@pytest.mark.parametrize("block", _of("json"))
def test_json_block_is_a_valid_graph(block):
    data = json.loads(block.text)
    assert isinstance(data, dict) and {"nodes", "outputs"} <= set(data), "JSON blocks are graph documents"
    graph = Graph.from_dict(data)
    graph.validate()
    with torch.no_grad():
        maps = graph.evaluate(8)
    assert {"basecolor", "normal", "roughness", "metallic", "height"} <= set(maps)
    assert all(torch.isfinite(m).all() for m in maps.values())


@pytest.mark.parametrize("block", _of("toml"))
def test_toml_block_parses(block):
    data = tomllib.loads(block.text)
    groups = data.get("project", {}).get("entry-points", {})
    assert groups and set(groups) <= {GROUP}, "toml blocks are plugin entry point tables"


def _commands(text: str) -> list[list[str]]:
    """Each simple command of a shell block as argv (continuations joined, comments and VAR=x dropped)."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|\|\||;|\|", line):
            argv = shlex.split(part, comments=True)
            while argv and re.match(r"^[A-Z_][A-Z0-9_]*=", argv[0]):
                argv = argv[1:]
            if argv:
                commands.append(argv)
    return commands


def _proxymat_args(argv: list[str]) -> list[str] | None:
    """The arguments given to proxymat, or None when ``argv`` does not run proxymat."""
    if Path(argv[0]).name == "proxymat":
        return argv[1:]
    for i, word in enumerate(argv[:-1]):
        if word == "-m" and argv[i + 1] in ("proxymat", "proxymat.cli"):
            return argv[i + 2:]
    return None


@pytest.mark.parametrize("block", _of("bash"))
def test_bash_block_commands_parse(block, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    parser = build_parser()
    commands = _commands(block.text)
    assert commands
    for argv in commands:
        args = _proxymat_args(argv)
        if args is None:
            assert argv[0] in SETUP, f"{block}: {argv[0]} is neither proxymat nor a known setup program"
            if argv[0].endswith("python") and argv[1] != "-m":
                assert (ROOT / argv[1]).is_file(), f"{block}: no script {argv[1]}"
            continue
        try:
            ns = parser.parse_args(args)
        except SystemExit:
            pytest.fail(f"{block}: `proxymat {shlex.join(args)}` does not parse: {capsys.readouterr().err.strip()}")
        if ns.command in CHEAP:
            assert main(args) == 0, f"{block}: `proxymat {shlex.join(args)}` failed"
        with using_plugins(getattr(ns, "plugin", None) or (), entry_points=False):
            known = set(generator_specs())
        for key in ("name", "generator"):
            name = getattr(ns, key, None)
            if ns.command in ("proxy", "gallery") and isinstance(name, str):
                assert name in known, f"{block}: unknown generator {name!r}"
