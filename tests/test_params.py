"""Typed parameters: validation, normalization round trips, rounding of discrete kinds."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from proxymat.params import ParamError, ParamSpec, b, color, e, f, i, vec2


def test_float_normalize_round_trip():
    p = f("x", 2.0, low=-1.0, high=3.0)
    assert p.normalize(2.0).tolist() == [0.75]
    assert p.denormalize([0.75]) == pytest.approx(2.0)
    assert p.denormalize([1.7]) == 3.0  # clamped


def test_int_rounds_on_the_way_back():
    p = i("n", 4, 1, 9)
    assert p.denormalize([0.44]) == 5  # 1 + 0.44*8 = 4.52 -> 5
    assert p.denormalize([0.43]) == 4  # 4.44 -> 4
    assert isinstance(p.denormalize([0.5]), int)


def test_enum_and_bool():
    p = e("mode", "max", ["add", "max", "min"])
    assert p.normalize("min").tolist() == [1.0]
    assert p.denormalize([0.26]) == "max"
    assert p.validate(2) == "min"
    q = b("flag", False)
    assert q.denormalize([0.7]) is True and q.denormalize([0.2]) is False


def test_color_and_vec2_sizes():
    c = color("c", (0.1, 0.2, 0.3))
    assert c.size == 3 and c.normalize([0.5, 0.25, 1.0]).tolist() == [0.5, 0.25, 1.0]
    v = vec2("o", (0.0, 0.0), -1.0, 1.0)
    assert v.denormalize([0.5, 1.0]) == (0.0, 1.0)


def test_discrete_denormalize_tensor_cuts_gradient():
    p = i("n", 4, 1, 9)
    u = torch.tensor([0.3], requires_grad=True)
    assert not p.denormalize_tensor(u).requires_grad
    q = f("x", 0.5)
    assert q.denormalize_tensor(u).requires_grad


@pytest.mark.parametrize(
    "spec,value,msg",
    [
        (f("x", 0.5), 1.5, "outside range"),
        (f("x", 0.5), "a", "expected a number"),
        (f("x", 0.5), float("nan"), "finite"),
        (f("x", 0.5), True, "expected a number"),
        (i("n", 2, 1, 4), 2.5, "expected an integer"),
        (i("n", 2, 1, 4), 9, "outside range"),
        (e("m", "a", ["a", "b"]), "c", "is not one of"),
        (b("t", True), 1, "expected true or false"),
        (color("c", (0, 0, 0)), [0, 0], "list of 3"),
    ],
)
def test_validation_errors_are_clear(spec, value, msg):
    with pytest.raises(ParamError, match=msg) as info:
        spec.validate(value)
    assert spec.name in str(info.value)


def test_bad_default_rejected_at_definition():
    with pytest.raises(ParamError):
        ParamSpec("x", "float", 2.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="unknown kind"):
        ParamSpec("x", "complex", 0.0)


@settings(max_examples=200, deadline=None)
@given(low=st.floats(-100, 100), span=st.floats(0.001, 100), u=st.floats(0, 1))
def test_float_round_trip_property(low, span, u):
    p = f("x", low, low=low, high=low + span)
    real = p.denormalize([u])
    assert low <= real <= low + span
    assert p.normalize(real).item() == pytest.approx(u, abs=1e-5)


@settings(max_examples=200, deadline=None)
@given(low=st.integers(-50, 50), span=st.integers(0, 60), u=st.floats(0, 1))
def test_int_round_trip_property(low, span, u):
    p = i("n", low, low, low + span)
    real = p.denormalize([u])
    assert isinstance(real, int) and low <= real <= low + span
    # normalizing an integer and coming back is exact
    assert p.denormalize(p.normalize(real)) == real


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(max_size=5), st.floats(allow_nan=True), st.none(), st.lists(st.integers(), max_size=4)))
def test_validate_never_crashes_with_other_errors(value):
    for spec in (f("x", 0.5), i("n", 1, 0, 3), e("m", "a", ["a", "b"]), b("t", False), color("c", (0, 0, 0))):
        try:
            spec.validate(value)
        except ParamError:
            pass


def test_integer_range_holds_the_whole_values_of_a_normalized_box_with_float32_edges():
    p = i("count", 4, 1, 64)
    box = (float(p.normalize(4)[0]), float(p.normalize(16)[0]))  # float32 edges, a hair off the integers
    assert p.integer_range(box) == (4, 16)
    assert p.integer_range((box[1], box[0])) == (4, 16)  # either order
    assert p.integer_range((0.0, 1.0)) == (1, 64)
    assert p.integer_range((0.05, 0.06)) == (5, 4)  # 4.15-4.78: no whole value, an empty range
