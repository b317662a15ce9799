"""The optimizer's behaviour on one small case matches a recorded fingerprint (tools/optimize_fingerprint.py).

The reference was recorded with ``python tools/optimize_fingerprint.py --only no-sweep:leather
--out tests/data/optimize_fingerprint_leather.json`` on one thread; on that machine the output is
identical byte for byte. Another CPU may round a few float32 operations differently, and a fit's
Adam steps carry that on (up to a relative 1.1e-3 between two 2-core machines), so numbers are compared
to a relative 2e-3 here (and numbers inside log lines to their printed digits); all text, every discrete
choice and every stage's length must match exactly.
"""

import importlib.util
import json
import re
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "optimize_fingerprint_leather.json"
CASE = "no-sweep:leather"
RTOL = 2e-3
"""Relative tolerance of floats (see the module docstring)."""
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _tool():
    spec = importlib.util.spec_from_file_location("optimize_fingerprint", ROOT / "tools" / "optimize_fingerprint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def differences(ref, now, where="", out=None) -> list[str]:
    """Where ``now`` differs from ``ref``: structure and text exactly, numbers (also within strings) nearly."""
    out = [] if out is None else out
    if isinstance(ref, dict) and isinstance(now, dict):
        if set(ref) != set(now):
            out.append(f"{where}: keys {sorted(set(ref) ^ set(now))}")
        for k in sorted(set(ref) & set(now)):
            if k != "renders":  # exact digests: compared through render_means
                differences(ref[k], now[k], f"{where}.{k}", out)
    elif isinstance(ref, list) and isinstance(now, list):
        if len(ref) != len(now):
            out.append(f"{where}: {len(ref)} items, now {len(now)}")
        for i, (a, b) in enumerate(zip(ref, now)):
            differences(a, b, f"{where}[{i}]", out)
    elif isinstance(ref, str) and isinstance(now, str):
        if _NUMBER.split(ref) != _NUMBER.split(now) or not all(
                _close(a, b) for a, b in zip(_NUMBER.findall(ref), _NUMBER.findall(now))):
            out.append(f"{where}: {ref!r} now {now!r}")
    elif isinstance(ref, bool) or isinstance(now, bool) or type(ref) is not type(now):
        if ref != now:
            out.append(f"{where}: {ref!r} now {now!r}")
    elif isinstance(ref, float):
        if not _close(repr(ref), repr(now)):
            out.append(f"{where}: {ref!r} now {now!r}")
    elif ref != now:
        out.append(f"{where}: {ref!r} now {now!r}")
    return out


def _close(a: str, b: str) -> bool:
    """Two numbers as written: equal, or floats within a relative :data:`RTOL` (or one unit of the last printed
    digit)."""
    if a == b:
        return True
    if "." not in a + b and "e" not in a + b:
        return False  # integers: exact
    x, y = float(a), float(b)
    digits = len(a.split(".")[1].split("e")[0]) if "." in a and "e" not in a else 17
    return abs(x - y) <= max(RTOL * max(abs(x), abs(y)), 1.01 * 10.0 ** -digits if digits < 8 else 0.0)


def test_the_comparison_catches_changed_numbers_text_and_lengths():
    ref = {"a": "0.048361390829086304", "log": ["loss 0.0513 -> 0.0484 in <t>s"], "n": 10, "c": [1.5, 2.5]}
    assert differences(ref, json.loads(json.dumps(ref))) == []
    assert differences(ref, {**ref, "a": "0.0484"}) == []  # within 2e-3 relative (8e-4)
    assert differences(ref, {**ref, "a": "0.0486"}) != []  # 5e-3
    assert differences(ref, {**ref, "log": ["loss 0.0513 -> 0.0485 in <t>s"]}) == []  # one unit of the last digit
    assert differences(ref, {**ref, "log": ["loss 0.0513 -> 0.0490 in <t>s"]}) != []
    assert differences(ref, {**ref, "log": ["loss 0.0513 => 0.0484 in <t>s"]}) != []
    assert differences(ref, {**ref, "n": 11}) != [] and differences(ref, {**ref, "c": [1.5]}) != []


def test_the_optimizer_matches_its_recorded_fingerprint():
    tool = _tool()
    ref = json.loads(REFERENCE.read_text(encoding="utf-8"))
    assert [r["case"] for r in ref["runs"]] == [CASE]
    now = json.loads(tool.dumps(tool.fingerprint(CASE, resume=False)))
    assert differences(ref, now) == []
