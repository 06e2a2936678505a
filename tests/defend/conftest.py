"""Fixtures for the defender tests: a lab trapdoor and lab firmware images."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleptolab.device.firmware import build_image
from kleptolab.drbg.trapdoor import Trapdoor, generate_trapdoor


@pytest.fixture(scope="session")
def trapdoor() -> Trapdoor:
    return generate_trapdoor()


@pytest.fixture(scope="session")
def images(trapdoor: Trapdoor) -> dict[str, bytes]:
    names = ("6.1.0r7", "6.2.0r14", "6.2.0r15", "6.3.0r20", "6.3.0r21")
    return {name: build_image(name, trapdoor_q=trapdoor.q) for name in names}


@pytest.fixture()
def image_files(tmp_path: Path, images: dict[str, bytes]) -> dict[str, Path]:
    out = {}
    for name, data in images.items():
        path = tmp_path / f"ssg5-{name}.bin"
        path.write_bytes(data)
        out[name] = path
    return out
