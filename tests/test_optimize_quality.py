"""`optimize --quality fast|default|best`: presets over OptimizeConfig, explicit flags on top, shown in --help."""

from __future__ import annotations

import pytest

from proxymat.cli import build_parser
from proxymat.cli.optimize import PRESET_FLAGS, config_from_args
from proxymat.optimize import config as cfg
from proxymat.optimize.config import PRESET_FIELDS, QUALITY, config_default, quality_settings
from proxymat.optimize.stages import OptimizeConfig

TODAY = {"res": 256, "iters1": 200, "iters2": 200, "iters3": 150, "samples": 64, "rescore": 8, "local_fraction": 0.5,
         "polish": 256, "polish_grow": 1.5, "polish_filters": False, "stage2_check": 10, "stage2_patience": 10,
         "sweep_iters": 25, "search_refit": 16, "search_refit_iters": 10, "seed": 0, "stage1": True, "stage2": True,
         "random_search": True, "stage3": True}


def config(*flags: str) -> OptimizeConfig:
    return config_from_args(build_parser().parse_args(["optimize", *flags]))


def test_the_parser_reads_the_optimizers_own_config():
    assert cfg.OptimizeConfig is OptimizeConfig  # stages re-exports the torch-free config module's class


def test_default_quality_is_exactly_the_config_defaults():
    default = config("--quality", "default")
    assert default == config() == OptimizeConfig()
    assert {name: getattr(default, name) for name in TODAY} == TODAY
    assert default.loss.scales == (1.0, 0.5, 0.25) and default.loss.features == "auto"


@pytest.mark.parametrize("quality", ["fast", "best"])
def test_a_preset_sets_its_values_and_leaves_the_rest_at_the_defaults(quality):
    got = config("--quality", quality)
    for name, value in QUALITY[quality].items():
        assert getattr(got, name) == value, name
    untouched = {name: value for name, value in TODAY.items() if name not in QUALITY[quality]}
    assert {name: getattr(got, name) for name in untouched} == untouched


def test_fast_is_smaller_and_best_is_larger_than_the_default():
    fast, default, best = (quality_settings(q) for q in ("fast", "default", "best"))
    work = ("iters1", "iters2", "iters3", "samples", "polish", "search_refit")
    assert all(fast[k] < default[k] < best[k] for k in work)
    assert fast["res"] == default["res"] == best["res"] == 256  # a fit at 128 px transfers badly to 256 px


def test_an_explicit_flag_overrides_the_preset():
    got = config("--quality", "fast", "--samples", "100", "--iters", "7", "8", "9", "--res", "128", "--polish", "0")
    assert (got.samples, got.iters1, got.iters2, got.iters3, got.res, got.polish) == (100, 7, 8, 9, 128, 0)
    assert got.rescore == QUALITY["fast"]["rescore"] and got.sweep_iters == QUALITY["fast"]["sweep_iters"]
    assert config("--quality", "best", "--sweep", "0").sweep_iters == 0  # a flag equal to no work still wins
    # the loss's scale pyramid follows the resolution actually used
    assert config("--quality", "fast", "--res", "64").loss.scales == (1.0, 0.5)


def test_every_preset_field_has_a_flag_and_a_plain_default():
    assert {name for preset in QUALITY.values() for name in preset} <= set(PRESET_FIELDS)
    assert set(PRESET_FIELDS) == set(PRESET_FLAGS) | {"iters2", "iters3"}
    assert all(config_default(name) is not None for name in PRESET_FLAGS)
    with pytest.raises(ValueError, match="unknown quality 'huge'"):
        quality_settings("huge")


def test_help_shows_what_each_preset_sets(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["optimize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "fast (a quick look): --res 256 --iters 100 100 75 --samples 32 --rescore 4 --polish 64" in text
    assert "default (the defaults): --res 256 --iters 200 200 150 --samples 64 --rescore 8 --polish 256" in text
    assert "best (longer searches and fits): --res 256 --iters 400 400 300 --samples 256" in text


def test_an_unknown_quality_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as err:
        build_parser().parse_args(["optimize", "--quality", "ultra"])
    assert err.value.code == 2 and "invalid choice: 'ultra'" in capsys.readouterr().err
