"""Fuzz targets for the lab's parsers of hostile input, seeded with what the project itself makes.

Each target takes bytes and holds a contract: the parser either succeeds or
raises ``ValueError`` (with its subclasses ``WireError``, ``EspError``,
``ConfigError``, ``TOMLDecodeError`` …); the log analyzer raises nothing at
all.  Anything else escaping is a bug.

========  ==========================================================  ================
target    code under test                                             seeds
========  ==========================================================  ================
pcap      ``capture.read_capture`` (pcap/pcapng framing, link layers,  ``tests/data`` captures
          IP reassembly, IKE/ESP classification)
config    ``device.config.parse_config`` over TOML and JSON            the default config
logs      ``defend`` log analyzer: ``parse_lines`` + ``evaluate``      a booted gateway's event log
firmware  ``device.firmware.parse_image``                              built lab images
esp       ``esp.sa.InboundSad.decapsulate`` (3DES/SHA1, AES-CBC/SHA1)  packets the outbound SA made
ike       ``kleptolab.ike.fuzz.fuzz_one`` (v1/v2 parsers, responder)   first messages the lab sends
========  ==========================================================  ================

CI runs every target briefly through Hypothesis (``tests/fuzz``).  A longer
local run, per target, with a random-mutation loop (no extra dependency)::

    PYTHONPATH=src python -m kleptolab.fuzz pcap --seconds 600
    KLEPTOLAB_FUZZ_EXAMPLES=20000 PYTHONPATH=src python -m pytest tests/fuzz -p no:randomly

or coverage-guided with atheris (``pip install atheris``):
``python -m kleptolab.fuzz pcap --atheris -- -max_total_time=600``.
A crashing input is written to ``crash-<target>-<sha256>.bin``; turn it into a
regression test under ``tests/fuzz/``.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import os
import random
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kleptolab.ike.common import ChildSaKeys

__all__ = ["TARGETS", "Target", "mutate", "repository_root", "run_one", "seeds"]


@dataclass(frozen=True)
class Target:
    """One fuzz target: ``run(data)`` under the contract, and where its seeds come from."""

    name: str
    run: Callable[[bytes], object]
    seeds: Callable[[], list[bytes]]
    may_raise_value_error: bool = True


def repository_root() -> Path | None:
    """The source checkout this package runs from (for ``tests/data`` seeds), if any."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "tests" / "data").is_dir() else None


def _capture_files() -> Iterator[Path]:
    root = repository_root()
    if root is not None:
        for path in sorted((root / "tests" / "data" / "captures").rglob("*")):
            if path.is_file() and ".pcap" in path.name:
                yield path


# -- pcap ------------------------------------------------------------------------------


def _pcap(data: bytes) -> None:
    from kleptolab.capture.datagrams import classify_all, read_capture

    capture = read_capture(io.BytesIO(data))
    classify_all(capture.datagrams)


def _pcap_seeds() -> list[bytes]:
    import gzip

    out = []
    for path in _capture_files():
        raw = path.read_bytes()
        out.append(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    return out or [b""]


# -- config ----------------------------------------------------------------------------


def _config(data: bytes) -> None:
    from kleptolab.device.config import parse_config

    text = data.decode("utf-8", "replace")
    parsed = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    if isinstance(parsed, dict):
        with contextlib.suppress(RecursionError):
            parse_config(parsed, base_dir=Path("/nonexistent-kleptolab-fuzz"))


def _config_seeds() -> list[bytes]:
    from kleptolab.device.config import DEFAULT_CONFIG_TOML

    extra = (
        "\n[ports]\nike = 0\nnatt = 0\n[console]\nmax_sessions = 2\nlogin_timeout = 5\n"
        '[admin_access]\nattempts = 5\nlock_out_period = 2\n[syslog]\ntarget = "127.0.0.1:5514"\n'
    )
    as_json = json.dumps(tomllib.loads(DEFAULT_CONFIG_TOML))
    return [DEFAULT_CONFIG_TOML.encode(), (DEFAULT_CONFIG_TOML + extra).encode(), as_json.encode()]


# -- logs ------------------------------------------------------------------------------


def _logs(data: bytes) -> None:
    from kleptolab.defend.eventlog_format import parse_lines
    from kleptolab.defend.logrules import evaluate

    parsed = parse_lines(data.decode("utf-8", "replace").splitlines(), "fuzz.log")
    evaluate(parsed.events)


@cache
def _gateway_log() -> bytes:
    """The event log of a booted lab gateway after normal, failed, backdoor and locked-out logins."""
    from kleptolab.device.config import load_config
    from kleptolab.device.firmware import build_image
    from kleptolab.device.gateway import Gateway
    from kleptolab.drbg.trapdoor import generate_trapdoor

    gateway = Gateway(
        load_config(None, seed="f0220d"),
        image=build_image("6.3.0r20", trapdoor_q=generate_trapdoor().q),
    )
    admin = gateway.admin
    where = {"via": "SSH", "ip": "127.0.0.1", "port": 40522, "local_port": 22}
    admin.authenticate("netscreen", "netscreen", **where)  # type: ignore[arg-type]
    if admin.master_password is not None:
        admin.authenticate("anyone", admin.master_password, **where)  # type: ignore[arg-type]
    for _ in range(4):
        admin.authenticate("netscreen", "wrong", **where)  # type: ignore[arg-type]
    gateway.event_log.record("ike", "IKE 192.0.2.2 Phase 1: Completed Main Mode negotiations.")
    return ("\n".join(gateway.event_lines()) + "\n").encode()


def _logs_seeds() -> list[bytes]:
    log = _gateway_log()
    return [log, log.replace(b"127.0.0.1", b"203.0.113.66")]


# -- firmware --------------------------------------------------------------------------


def _firmware(data: bytes) -> None:
    from kleptolab.device.firmware import parse_image

    parse_image(data)


def _firmware_seeds() -> list[bytes]:
    from kleptolab.device.firmware import build_image
    from kleptolab.drbg.trapdoor import generate_trapdoor

    q = generate_trapdoor().q
    return [build_image(v, trapdoor_q=q) for v in ("6.3.0r20", "6.3.0r21", "6.2.0r15")]


# -- esp -------------------------------------------------------------------------------


@cache
def _esp_sads() -> tuple[tuple[object, object], ...]:
    from kleptolab.crypto.algorithms import Encr, Integ
    from kleptolab.esp.sa import InboundSad, sa_pair_from_child
    from kleptolab.ike.common import ChildSaKeys

    made: list[tuple[object, object]] = []
    for n, (encr, size) in enumerate(((Encr.TDES_CBC, 24), (Encr.AES_CBC, 16)), start=1):
        child = ChildSaKeys(
            key_size=size,
            spi_in=bytes([0, 0, 0x10, n]),
            spi_out=bytes([0, 0, 0x20, n]),
            encr=encr,
            integ=Integ.HMAC_SHA1_96,
            encr_key_in=bytes(range(size)),
            encr_key_out=bytes(range(size, 2 * size)),
            integ_key_in=b"\x11" * 20,
            integ_key_out=b"\x22" * 20,
            local_ts=ipaddress.IPv4Network("198.51.100.0/24"),
            remote_ts=ipaddress.IPv4Network("203.0.113.0/24"),
        )
        _out, in_sa = sa_pair_from_child(child, random.Random(n).randbytes, replay_window=None)
        sad = InboundSad()
        sad.add(in_sa)
        peer_out, _in = sa_pair_from_child(_mirror(child), random.Random(n).randbytes)
        made.append((sad, peer_out))
    return tuple(made)


def _mirror(child: ChildSaKeys) -> ChildSaKeys:
    """The same SA pair seen from the peer."""
    return replace(
        child,
        spi_in=child.spi_out,
        spi_out=child.spi_in,
        encr_key_in=child.encr_key_out,
        encr_key_out=child.encr_key_in,
        integ_key_in=child.integ_key_out,
        integ_key_out=child.integ_key_in,
    )


def _esp(data: bytes) -> None:
    from kleptolab.esp.sa import InboundSad

    for sad, _peer in _esp_sads():
        assert isinstance(sad, InboundSad)
        sad.decapsulate(data)


def _esp_seeds() -> list[bytes]:
    from kleptolab.esp.sa import EspSa

    out = []
    for _sad, peer_out in _esp_sads():
        assert isinstance(peer_out, EspSa)
        for size in (0, 1, 20, 64):
            out.append(peer_out.encapsulate(bytes(range(size)) + b"\x45" * 20))
    return out


# -- ike -------------------------------------------------------------------------------


def _ike(data: bytes) -> None:
    from kleptolab.ike.fuzz import fuzz_one

    fuzz_one(data)


def _ike_seeds() -> list[bytes]:
    from kleptolab.capture.datagrams import read_capture

    out = []
    for path in _capture_files():
        with contextlib.suppress(ValueError):
            out += [d.payload for d in read_capture(path).datagrams if 500 in (d.sport, d.dport)]
    return out[:64] or [bytes(28)]


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("pcap", _pcap, _pcap_seeds),
        Target("config", _config, _config_seeds),
        Target("logs", _logs, _logs_seeds, may_raise_value_error=False),
        Target("firmware", _firmware, _firmware_seeds),
        Target("esp", _esp, _esp_seeds),
        Target("ike", _ike, _ike_seeds, may_raise_value_error=False),
    )
}


@cache
def seeds(name: str) -> tuple[bytes, ...]:
    """The seed inputs of target ``name`` (cached)."""
    return tuple(TARGETS[name].seeds())


def run_one(name: str, data: bytes) -> None:
    """Run target ``name`` on ``data``; only a contract violation escapes."""
    target = TARGETS[name]
    if target.may_raise_value_error:
        with contextlib.suppress(ValueError):
            target.run(data)
    else:
        target.run(data)


def mutate(rng: random.Random, data: bytes, others: tuple[bytes, ...] = ()) -> bytes:
    """One to four random edits: bit flips, interesting bytes, deletions, insertions, splices."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            i = min(pos, len(buf) - 1)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            i = min(pos, len(buf) - 1)
            buf[i] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif op == 2 and len(buf) >= 4:
            i = min(pos, len(buf) - 4)
            buf[i : i + 4] = rng.choice((0, 1, 7, 8, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)).to_bytes(
                4, rng.choice(("big", "little"))
            )
        elif op == 3:
            del buf[pos : pos + rng.randint(1, 64)]
        elif op == 4:
            buf[pos:pos] = os.urandom(rng.randint(1, 32))
        elif op == 5 and others:
            other = rng.choice(others)
            start = rng.randrange(len(other) + 1)
            buf[pos:pos] = other[start : start + rng.randint(1, 256)]
        else:
            del buf[pos:]
    return bytes(buf)
