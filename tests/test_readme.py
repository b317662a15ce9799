"""The README's commands and Python example stay true."""

import re
from pathlib import Path

import pytest

from proxymat.examples import example_target_path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_starts_with_setup_and_test_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    assert "proxymat optimize" in blocks[0] and "pip install" in blocks[0]
    assert "pytest" in blocks[1]


def test_python_api_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    small = (code.replace('"photo.png"', repr(str(example_target_path("leather"))))
                 .replace("OptimizeConfig(res=256)", "OptimizeConfig(res=32, iters1=2, iters2=2, iters3=2, samples=2, sweep_iters=2)")
                 .replace("evaluate(256)", "evaluate(32)").replace(", 256)", ", 32)").replace("res=1024", "res=32"))
    assert small != code
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(small, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert (tmp_path / "fitted.json").is_file()
    assert (tmp_path / "fitted_material").is_dir() and any((tmp_path / "fitted_material").glob("*.mtlx"))
    assert namespace["image"].shape == (1, 3, 32, 32)


def test_proxy_training_example_runs(tmp_path, monkeypatch):
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[1]
    small = code.replace("steps=6000", "steps=2, val_size=4, checkpoint_every=1").replace("res=64", "res=16")
    assert small != code
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(small, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["proxy"].res == 16 and (tmp_path / "cells.safetensors").is_file()
