"""Plugin generators: loading from a file and from entry points, the one-line errors of broken plugins,
and the example plugin (docs/examples/stripes_plugin.py) rendered, optimized and given a tiny proxy."""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from proxymat.cli import main
from proxymat.graph import Graph
from proxymat.nodes.generators import generator_specs, get_generator
from proxymat.plugin import PluginError
from proxymat.plugin_loader import GROUP, import_file, load_plugins, using_plugins

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "stripes_plugin.py"
GRAPH = ROOT / "docs" / "examples" / "stripes.json"
NAME = "shaded_stripes"

HEADER = "import numpy as np\nimport torch\nfrom proxymat.plugin import Generator, b, e, f, i\n"


def run_cli(argv: list, capsys) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``proxymat ARGV``; torch's thread count restored afterwards."""
    threads = torch.get_num_threads()
    try:
        code = main([str(a) for a in argv])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr()
    return code, out.out, out.err


def write_plugin(tmp_path: Path, body: str, name: str = "my_plugin.py") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def stripes_values(params: dict[str, float]) -> dict[str, torch.Tensor]:
    return {k: torch.tensor([float(v)]) for k, v in params.items()}


# ---------------------------------------------------------------- loading
def test_the_example_plugin_loads_from_its_file():
    specs = load_plugins([EXAMPLE], entry_points=False)
    assert list(specs) == [NAME]
    spec = specs[NAME]
    assert [p.name for p in spec.params] == ["count", "width", "profile", "variation"]
    assert spec.param("profile").choices == ("square", "ramp", "smooth")
    batch = {"count": torch.tensor([4.0, 12.0, 4.0]), "width": torch.tensor([0.3, 0.3, 0.3]),
             "profile": torch.tensor([0.0, 0.0, 2.0]), "variation": torch.tensor([0.0, 0.0, 0.0])}
    out = spec(batch, 96, seed=5)
    assert out.shape == (3, 1, 96, 96) and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.equal(out, spec(batch, 96, seed=5))
    # square profile: each row holds 4 (then 12) white runs of width 0.3 of a period
    runs = [int(np.count_nonzero(np.diff(np.r_[0, img[0, 0].numpy(), 0]) > 0)) for img in out[:2]]
    assert runs == [4, 12]
    assert abs(float(out[0].mean()) - 0.3) < 0.05
    assert not torch.equal(out[0], out[2])  # the enum reaches the callable
    assert torch.equal(out[0, 0, 0], out[0, 0, 17])  # vertical stripes: every row the same


def test_the_docs_show_the_example_plugin_as_it_is():
    block = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "plugins.md").read_text(), re.S).group(1)
    assert block == EXAMPLE.read_text()


def test_plugin_generators_exist_only_inside_their_scope():
    assert NAME not in generator_specs()
    with using_plugins([EXAMPLE], entry_points=False):
        assert get_generator(NAME).name == NAME
        assert "cells" in generator_specs()
    assert NAME not in generator_specs()


def test_a_scope_loads_nothing_before_the_first_lookup(tmp_path):
    missing = tmp_path / "missing.py"
    with using_plugins([missing], entry_points=False):  # opening the block reads no file
        with pytest.raises(PluginError, match="missing.py: no such file"):
            generator_specs()


def test_values_reach_the_callable_in_their_own_types(tmp_path):
    path = write_plugin(tmp_path, (
        "def fn(params, res, seed):\n"
        "    kinds = [type(params[k]).__name__ for k in ('x', 'n', 'mode', 'flip')]\n"
        "    assert kinds == ['float', 'int', 'str', 'bool'], kinds\n"
        "    assert params['mode'] in ('a', 'b')\n"
        "    v = 0.25 * params['n'] / 4 + (0.5 if params['flip'] else 0.0) + (0.2 if params['mode'] == 'b' else 0.0)\n"
        "    return torch.full((1, res, res), min(v + 0.0 * seed, 1.0), dtype=torch.float64)\n"
        "GENERATORS = [Generator('flat_probe', fn, [f('x', 0.5), i('n', 2, 0, 4), e('mode', 'a', ['a', 'b']), b('flip', False)])]\n"
    ))
    spec = load_plugins([path], entry_points=False)["flat_probe"]
    out = spec(stripes_values({"n": 4, "mode": 1, "flip": 1}), 8)
    assert out.shape == (1, 1, 8, 8) and torch.allclose(out, torch.full_like(out, 0.95))


# ---------------------------------------------------------------- entry points
@pytest.fixture
def installed(monkeypatch):
    """Pretend installed packages declare ``(name, value)`` entry points in the plugin group."""
    def install(*points: tuple[str, str]) -> None:
        eps = [importlib.metadata.EntryPoint(name, value, GROUP) for name, value in points]
        monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: eps if group == GROUP else [])
    return install


@pytest.mark.parametrize("value", ["fake_stripes_pkg", "fake_stripes_pkg:GENERATORS"])
def test_an_installed_plugin_loads_through_its_entry_point(value, installed, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fake_stripes_pkg", import_file(EXAMPLE))
    installed(("stripes", value))
    assert list(load_plugins()) == [NAME]
    assert list(load_plugins(entry_points=False)) == []
    code, out, err = run_cli(["generators", NAME], capsys)  # no --plugin: the installed one loads by itself
    assert code == 0 and out.startswith(f"{NAME} (generator)"), err


def test_a_broken_entry_point_is_one_line_naming_it(installed, capsys):
    installed(("dots", "no_such_package_for_proxymat.dots"))
    code, _, err = run_cli(["generators"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "plugin entry point dots = no_such_package_for_proxymat.dots: import failed: ModuleNotFoundError" in err


def test_commands_without_plugin_option_do_not_load_plugins(installed, capsys):
    installed(("dots", "no_such_package_for_proxymat.dots"))
    code, _, err = run_cli(["examples"], capsys)
    assert code == 0, err


# ---------------------------------------------------------------- broken plugins
GOOD_FN = "def fn(params, res, seed):\n    return np.full((res, res), params['x'])\n"
BROKEN = {
    "syntax": ("def fn(:\n", "import failed: SyntaxError"),
    "import_error": ("import no_such_module_for_proxymat\n", "import failed: ModuleNotFoundError"),
    "raises_at_import": ("raise RuntimeError('boom')\n", "import failed: RuntimeError: boom"),
    "no_generators": (GOOD_FN, "defines no GENERATORS list"),
    "generators_not_a_list": (GOOD_FN + "GENERATORS = {'x': fn}\n", "GENERATORS must be a non-empty list"),
    "entry_not_a_generator": (GOOD_FN + "GENERATORS = [{'name': 'x', 'fn': fn}]\n", "GENERATORS[0] is a dict"),
    "default_out_of_range": (GOOD_FN + "GENERATORS = [Generator('g', fn, [f('x', 2.0)])]\n",
                             "import failed: ParamError: parameter 'x' (float): 2.0 outside range [0, 1]"),
    "vector_param": (GOOD_FN + "from proxymat.params import vec2\nGENERATORS = [Generator('g', fn, [vec2('x', (0, 0))])]\n",
                     "generator 'g': parameter 'x' is a vec2"),
    "no_params": (GOOD_FN + "GENERATORS = [Generator('g', fn, [])]\n", "params must be a non-empty list"),
    "bad_name": (GOOD_FN + "GENERATORS = [Generator('my-gen', fn, [f('x', 0.5)])]\n", "name 'my-gen' is not letters"),
    "not_callable": ("GENERATORS = [Generator('g', 3, [f('x', 0.5)])]\n", "generator 'g': fn is a int"),
    "builtin_generator_name": (GOOD_FN + "GENERATORS = [Generator('cells', fn, [f('x', 0.5)])]\n",
                               "generator 'cells' has the name of a built-in node type"),
    "filter_name": (GOOD_FN + "GENERATORS = [Generator('blur', fn, [f('x', 0.5)])]\n",
                    "generator 'blur' has the name of a built-in node type"),
    "twice": (GOOD_FN + "GENERATORS = [Generator('g', fn, [f('x', 0.5)]), Generator('g', fn, [f('x', 0.5)])]\n",
              "generator 'g' is also defined by plugin"),
    "wrong_shape": ("def fn(params, res, seed):\n    return np.zeros((res, res, 3))\n"
                    "GENERATORS = [Generator('g', fn, [f('x', 0.5)])]\n", "generator 'g' returned shape (16, 16, 3) at res 16"),
    "int_dtype": ("def fn(params, res, seed):\n    return np.zeros((res, res), dtype=np.uint8)\n"
                  "GENERATORS = [Generator('g', fn, [f('x', 0.5)])]\n", "generator 'g' returned an array of dtype uint8"),
    "not_an_array": ("def fn(params, res, seed):\n    return [[0.0] * res] * res\n"
                     "GENERATORS = [Generator('g', fn, [f('x', 0.5)])]\n", "generator 'g' returned a list"),
    "nan": ("def fn(params, res, seed):\n    return np.full((res, res), np.nan if params['x'] > 0.9 else 0.5)\n"
            "GENERATORS = [Generator('g', fn, [f('x', 0.5)])]\n", "generator 'g' returned NaN or infinite values"),
    "out_of_range": ("def fn(params, res, seed):\n    return torch.full((res, res), 255.0 * params['x'])\n"
                     "GENERATORS = [Generator('g', fn, [f('x', 0.5)])]\n", "generator 'g' returned values in [127.5, 127.5]; expected [0, 1]"),
    "raises_at_high_end": ("def fn(params, res, seed):\n    return np.full((res, res), 0.1 / (1.0 - params['x']) % 1)\n"
                           "GENERATORS = [Generator('g', fn, [f('x', 0.5)])]\n",
                           "generator 'g' failed at {'x': 1.0}, res 16, seed 0: ZeroDivisionError"),
    "not_deterministic": ("def fn(params, res, seed):\n    return np.random.random((res, res))\n"
                          "GENERATORS = [Generator('g', fn, [f('x', 0.5)])]\n",
                          "generator 'g' drew two different images for the same parameters and seed"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_plugin_is_one_line_naming_the_file(case, tmp_path, capsys):
    body, message = BROKEN[case]
    path = write_plugin(tmp_path, body)
    code, out, err = run_cli(["generators", "--plugin", path], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"proxymat: error: plugin {path}: "), err
    assert message in err, err


@pytest.mark.parametrize("name", ["missing.py", "plugin.txt"])
def test_a_plugin_that_is_no_python_file_is_refused(name, tmp_path, capsys):
    path = tmp_path / name
    if name.endswith(".txt"):
        path.write_text(GOOD_FN)
    code, _, err = run_cli(["generators", "--plugin", path], capsys)
    assert code == 2 and err.strip() in (f"proxymat: error: plugin {path}: no such file",
                                         f"proxymat: error: plugin {path}: expected a Python file (.py)")


def test_two_plugins_with_one_name_are_refused(tmp_path, capsys):
    body = GOOD_FN + "GENERATORS = [Generator('g', fn, [f('x', 0.5)])]\n"
    first, second = write_plugin(tmp_path, body, "a.py"), write_plugin(tmp_path, body, "b.py")
    code, _, err = run_cli(["generators", "--plugin", first, "--plugin", second], capsys)
    assert code == 2 and err.strip() == f"proxymat: error: plugin {second}: generator 'g' is also defined by plugin {first}"


def test_a_broken_plugin_writes_no_output(tmp_path, capsys):
    path = write_plugin(tmp_path, BROKEN["wrong_shape"][0].replace("'g'", f"'{NAME}'"))
    out = tmp_path / "out"
    code, _, err = run_cli(["render", GRAPH, "--plugin", path, "-o", out, "--res", "32"], capsys)
    assert code == 2 and f"plugin {path}: generator '{NAME}' returned shape" in err
    assert not out.exists()


def test_a_graph_of_a_plugin_generator_needs_the_plugin(tmp_path, capsys):
    code, _, err = run_cli(["render", GRAPH, "-o", tmp_path / "out", "--res", "32"], capsys)
    assert code == 2 and f"unknown node type '{NAME}'" in err


# ---------------------------------------------------------------- the example in graphs and proxies
def test_a_graph_of_the_plugin_renders_and_optimizes(tmp_path, capsys):
    plugin = ["--plugin", EXAMPLE]
    code, out, err = run_cli(["render", GRAPH, *plugin, "-o", tmp_path / "target", "--res", "64"], capsys)
    assert code == 0 and (tmp_path / "target" / "render.png").is_file(), err
    # a target from other parameters: 10 stripes instead of 6, square
    data = json.loads(GRAPH.read_text())
    data["nodes"]["stripes"]["params"].update(count=10, profile="square")
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    assert run_cli(["render", other, *plugin, "-o", tmp_path / "other", "--res", "64"], capsys)[0] == 0
    fit = tmp_path / "fit"
    code, out, err = run_cli(["optimize", GRAPH, *plugin, "--target", tmp_path / "other" / "render.png", "-o", fit,
                              "--res", "64", "--iters", "2", "2", "2", "--samples", "4", "--polish", "4", "--sweep", "1",
                              "--quiet", "--threads", "1"], capsys)
    assert code == 0, err
    assert "proxies: none" in out  # no proxy for the plugin: random search and polish move it
    with using_plugins([EXAMPLE], entry_points=False):
        result = Graph.load(fit / "graph.json")
        result.validate()
    assert result.nodes["stripes"].type == NAME
    scores = json.loads((fit / "summary.json").read_text())["scores"]
    assert scores["final"]["loss"] < scores["start"]["loss"]


def test_a_tiny_proxy_trains_evaluates_and_drives_optimize(tmp_path, capsys):
    plugin = ["--plugin", EXAMPLE]
    weights = tmp_path / "proxies" / f"{NAME}.safetensors"
    code, out, err = run_cli(["proxy", "train", NAME, *plugin, "--steps", "4", "--res", "32", "--batch", "2",
                              "--w-dim", "8", "--channels", "8", "8", "8", "8", "--features", "random",
                              "--checkpoint-every", "2", "--val-every", "2", "--out", weights, "--quiet",
                              "--threads", "1"], capsys)
    assert code == 0 and weights.is_file(), err
    assert f"saved {weights} after 4 steps" in out

    code, out, err = run_cli(["proxy", "eval", NAME, *plugin, "--weights", weights, "--n", "4", "--json",
                              "--threads", "1"], capsys)
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["generator"] == NAME and metrics["res"] == 32 and metrics["steps"] == 4
    assert 0.0 <= metrics["l1"] <= 1.0

    assert run_cli(["render", GRAPH, *plugin, "-o", tmp_path / "target", "--res", "64"], capsys)[0] == 0
    code, out, err = run_cli(["optimize", GRAPH, *plugin, "--proxy", f"{NAME}={weights}",
                              "--target", tmp_path / "target" / "render.png", "-o", tmp_path / "fit", "--res", "64",
                              "--iters", "1", "1", "1", "--samples", "2", "--polish", "0", "--sweep", "0",
                              "--quiet", "--threads", "1"], capsys)
    assert code == 0, err
    assert f"proxies: {NAME}" in out


def test_a_proxy_of_another_generator_is_refused_for_the_plugin(tmp_path, capsys):
    shipped = ROOT / "src" / "proxymat" / "weights" / "cells.safetensors"
    if not shipped.is_file():
        pytest.skip("no shipped cells proxy")
    code, _, err = run_cli(["proxy", "eval", NAME, "--plugin", EXAMPLE, "--weights", shipped, "--n", "2"], capsys)
    assert code == 2 and "proxy is for generator 'cells', not 'shaded_stripes'" in err


@pytest.mark.slow
def test_fit_with_a_plugin_graph_and_its_proxy(tmp_path, capsys):
    plugin = ["--plugin", EXAMPLE]
    weights = tmp_path / "p.safetensors"
    assert run_cli(["proxy", "train", NAME, *plugin, "--steps", "2", "--res", "32", "--batch", "2", "--w-dim", "8",
                    "--channels", "8", "8", "8", "8", "--features", "random", "--out", weights, "--quiet",
                    "--threads", "1"], capsys)[0] == 0
    assert run_cli(["render", GRAPH, *plugin, "-o", tmp_path / "target", "--res", "64"], capsys)[0] == 0
    code, out, err = run_cli(["fit", tmp_path / "target" / "render.png", "--graph", GRAPH, *plugin,
                              "--proxy", f"{NAME}={weights}", "--quality", "fast", "--res", "64",
                              "-o", tmp_path / "fit", "--quiet", "--threads", "1"], capsys)
    assert code == 0, err
    assert "chose 'painted_boards'" in out and (tmp_path / "fit" / "graph.json").is_file()


def test_fit_refuses_a_proxy_without_a_graph(tmp_path, capsys):
    code, _, err = run_cli(["fit", tmp_path / "photo.png", "--proxy", f"{NAME}=p.safetensors", "-o", tmp_path / "o"],
                           capsys)
    assert code == 2 and "--proxy needs --graph" in err and not (tmp_path / "o").exists()
