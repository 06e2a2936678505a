"""Fuzz entry point over the IKEv1 and IKEv2 parsers (and the IKEv1 responder).

``fuzz_one(data)`` runs every target on ``data``.  The contract under test:
parsers raise only ``WireError``/``ValueError`` subclasses (swallowed here),
and an engine's ``receive`` raises nothing at all.  Anything else escapes
and is a bug.  IKEv2 targets are used when ``kleptolab.ike.v2`` provides them.

Run with atheris (optional): ``python -m kleptolab.ike.fuzz [corpus dirs]``.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import sys
from collections.abc import Callable
from functools import cache

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.common import ChildProposal, IkeProposal, PeerConfig, SimpleKeySource
from kleptolab.ike.v1.attributes import parse_attributes
from kleptolab.ike.v1.crypto import Ikev1Cipher
from kleptolab.ike.v1.engine import Ikev1Responder
from kleptolab.ike.v1.message import decode_chain, parse_message
from kleptolab.ike.v1.payloads import PAYLOAD_CLASSES, Payload, ProposalPayload, TransformPayload

Target = Callable[[bytes], object]


def _v1_message(data: bytes) -> None:
    msg = parse_message(data)
    if msg.chain is not None:
        for payload in msg.chain.payloads:
            payload.build()


def _v1_chain(data: bytes) -> None:
    if data:
        decode_chain(data[0], data[1:], allow_padding=True)


def _v1_payloads(data: bytes) -> None:
    classes: list[type[Payload]] = [*PAYLOAD_CLASSES.values(), ProposalPayload, TransformPayload]
    for cls in classes:
        with contextlib.suppress(ValueError):
            cls.parse(data).build()


def _v1_decrypt(data: bytes) -> None:
    Ikev1Cipher(Encr.TDES_CBC, bytes(range(24)), Prf.HMAC_SHA1, bytes(8)).decrypt(data)


_CONFIG = PeerConfig(
    "fuzz",
    1,
    "gw.example",
    "%any",
    (IkeProposal(Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 2),),
    (ChildProposal(Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96),),
    ipaddress.IPv4Network("10.0.0.0/8"),
    ipaddress.IPv4Network("0.0.0.0/0"),
    psk=b"fuzz",
)


def _v1_responder(data: bytes) -> None:
    counter = iter(range(1 << 30))
    keys = SimpleKeySource(lambda n: bytes((next(counter) + i) & 0xFF for i in range(n)))
    Ikev1Responder([_CONFIG], keys, local=("192.0.2.1", 500), remote=("192.0.2.2", 500)).receive(
        data
    )


@cache
def targets() -> tuple[tuple[str, Target, bool], ...]:
    """(name, function, may_raise_value_error) for every available target."""
    found: list[tuple[str, Target, bool]] = [
        ("v1.parse_message", _v1_message, True),
        ("v1.decode_chain", _v1_chain, True),
        ("v1.payloads", _v1_payloads, True),
        ("v1.attributes", parse_attributes, True),
        ("v1.decrypt", _v1_decrypt, True),
        ("v1.responder", _v1_responder, False),
    ]
    try:
        v2 = importlib.import_module("kleptolab.ike.v2.payloads")
    except ImportError:
        return tuple(found)
    parse = getattr(v2, "parse_message", None)
    if callable(parse):
        found.append(("v2.parse_message", parse, True))
    chain = getattr(v2, "decode_chain", None)
    if callable(chain):
        found.append(("v2.decode_chain", lambda d: chain(d[0], d[1:]) if d else None, True))
    return tuple(found)


def fuzz_one(data: bytes) -> None:
    """Run every target on ``data``; only a contract violation escapes."""
    for _name, target, may_raise in targets():
        if may_raise:
            with contextlib.suppress(ValueError):  # WireError is a ValueError
                target(data)
        else:
            target(data)


def main(argv: list[str]) -> None:  # pragma: no cover - needs atheris
    try:
        atheris = importlib.import_module("atheris")
    except ImportError:
        raise SystemExit("atheris is not installed: pip install atheris") from None
    atheris.Setup(argv, fuzz_one)
    atheris.Fuzz()


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv)
