from __future__ import annotations

import json
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kleptolab.drbg import _reference
from kleptolab.drbg.curves import P256, P384
from kleptolab.drbg.trapdoor import Trapdoor, generate_trapdoor, load_public_q, load_trapdoor


def test_generate_trapdoor_relation():
    td = generate_trapdoor()
    assert _reference.mul(P256, td.d, td.q) == P256.generator
    assert _reference.mul(P256, td.e, P256.generator) == td.q
    assert generate_trapdoor().q != td.q
    assert "d=" not in repr(td)


def test_generate_on_p384():
    td = generate_trapdoor(P384)
    assert td.curve is P384 and P384.contains(td.q)


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=1, max_value=P256.n - 1))
def test_d_times_q_is_p(e):
    q = _reference.mul(P256, e, P256.generator)
    assert q is not None
    td = Trapdoor.from_d(P256, q, pow(e, -1, P256.n))
    assert td.e == e
    assert _reference.mul(P256, td.d, td.q) == P256.generator


def test_round_trip_and_public_part(tmp_path, trapdoor):
    path, public = tmp_path / "t.json", tmp_path / "q.json"
    trapdoor.save(path, public_path=public)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_trapdoor(path) == trapdoor
    assert load_public_q(public) == (P256, trapdoor.q)
    assert load_public_q(path) == (P256, trapdoor.q)
    assert "d" not in json.loads(public.read_text())
    assert json.loads(path.read_text())["version"] == 1


def _corrupt(trapdoor, **changes):
    data = trapdoor.to_json()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "other"}, "format is 'other'"),
        ({"version": 2}, "unsupported key file version 2"),
        ({"curve": "P-999"}, "unknown curve"),
        ({"curve": 5}, "'curve' is missing or not a string"),
        ({"d": "xyz"}, "'d' is not a hex number"),
        ({"d": "0" * 65}, "'d' is not a hex number of at most 64 digits"),
        ({"d": "00"}, "d is out of range"),
        ({"d": "02"}, r"d\*Q != P"),
        ({"q": {"x": "01", "y": "01"}}, "Q is not a point of P-256"),
        ({"q": "nope"}, "'q' is missing"),
        ({"curve": "P-384"}, "Q is not a point of P-384"),
    ],
)
def test_bad_files_raise_precise_errors(trapdoor, changes, message):
    with pytest.raises(ValueError, match=message):
        Trapdoor.from_json(_corrupt(trapdoor, **changes))


def test_bad_paths(tmp_path):
    with pytest.raises(ValueError, match="key file not found"):
        load_trapdoor(tmp_path / "none.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_trapdoor(broken)
    broken.write_text("[]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        load_public_q(broken)


def test_inconsistent_dataclass_is_rejected(trapdoor):
    with pytest.raises(ValueError, match="e is not the inverse"):
        Trapdoor(P256, trapdoor.q, trapdoor.d, trapdoor.e + 1)
