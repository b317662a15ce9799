"""The selection benchmark's rows and table (`proxymat bench select`) on a two-graph library."""

import json
import math

import pytest

from proxymat.benchmarks.selection import score_target, select_table
from proxymat.examples import example_graph_text
from proxymat.select import short_config
from proxymat.select_index import Entry, build_index, sample_graph


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lib")
    entries = []
    for name, category in (("bricks", "masonry"), ("fabric", "fabric")):
        data = json.loads(example_graph_text(name))
        data["res"] = 64
        (folder / f"{name}.json").write_text(json.dumps(data))
        entries.append(Entry(name, category, folder / f"{name}.json"))
    return entries


@pytest.fixture(scope="module")
def index(library):
    return build_index(library, samples=4, seed=0)


def test_rule_rows_follow_the_descriptor_when_familiar_and_the_fits_when_not(library, index):
    *_, renders = sample_graph(library[0].load(), 1, seed=4321, res=64)
    config = short_config(64, 3)
    familiar = score_target(renders, "bricks", index, library, 0, config, limit=math.inf, wide=2)
    assert familiar["unfamiliar"] is False
    assert familiar["rule_top1"] == familiar["descriptor_top1"] and familiar["chosen_by_rule"] == familiar["chosen_by_descriptor"]
    assert "fit_top1" not in familiar  # no shortlist fits asked for
    unfamiliar = score_target(renders, "bricks", index, library, 0, config, limit=-1.0, wide=2)
    assert unfamiliar["unfamiliar"] is True and unfamiliar["rule_top3"] is True  # 2 graphs: always in the first 3
    assert unfamiliar["chosen_by_rule"] in ("bricks", "fabric")
    table = select_table([familiar, unfamiliar])
    assert "| fit's rule (short fits when unfamiliar: 50 % (1/2)) |" in table
    assert "| descriptor only | " in table and "after short fits | not run | not run |" in table


def test_rows_without_a_limit_have_no_rule(library, index):
    *_, renders = sample_graph(library[1].load(), 1, seed=4321, res=64)
    row = score_target(renders, "fabric", index, library, 0)
    assert not any(k.startswith("rule") for k in row) and "unfamiliar" not in row
    assert "fit's rule (short fits when unfamiliar: not run) | not run | not run |" in select_table([row])
