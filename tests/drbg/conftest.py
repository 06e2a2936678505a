"""Fixtures for the DRBG tests: a fixed lab trapdoor (never a historic Q)."""

from __future__ import annotations

import pytest

from kleptolab.drbg import _ec
from kleptolab.drbg.curves import P256
from kleptolab.drbg.trapdoor import Trapdoor

FIXED_E = 0x1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF
AMBIGUOUS_SEED = 1  # with FIXED_E, a full 2^16 sweep leaves 3 candidate states


def make_trapdoor(e: int = FIXED_E) -> Trapdoor:
    return Trapdoor(P256, _ec.base_mult(P256, e), pow(e, -1, P256.n), e)


@pytest.fixture(scope="session")
def trapdoor() -> Trapdoor:
    return make_trapdoor()
