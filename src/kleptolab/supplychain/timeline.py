"""The lab source history as data, following the public timeline.

Dates and releases: CACM 2018 §6 (Dual EC added with Juniper's own Q in 2008
for 6.2.0r1; Qx and the KAT changed before 6.2.0r15 and 6.3.0r12 in 2012; the
password check added before 6.3.0r17, dated April 2013 there while CCS 2016
§9.1 speaks of 2014 changes), JSA10713 (17 Dec 2015: the fix restores Q and
removes the check in 6.2.0r19, 6.3.0r21 and "b" respins), and the April 2016
release that removed Dual EC and X9.31.  The people are fictional lab
personas; the lab Q (from the lab's own trapdoor) stands in for the
unauthorized one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kleptolab.device.profiles import LAB_MASTER_PASSWORD
from kleptolab.drbg.constants import JUNIPER_QX
from kleptolab.drbg.curves import P256
from kleptolab.drbg.screenos import kat_expected
from kleptolab.supplychain.policy import Persona
from kleptolab.supplychain.source import (
    AUTH_PATH,
    HMAC_PATH,
    HMAC_SOURCE,
    PARAMS_PATH,
    X931_ONLY_SOURCE,
    X931_PATH,
    X931_SOURCE,
    render_auth,
    render_params,
)

__all__ = ["BUILDER", "DOMAIN", "PERSONAS", "ROOT", "SCENARIOS", "Event", "timeline"]

DOMAIN = "screenos-lab.example"
PERSONAS: dict[str, Persona] = {
    p.id: p
    for p in (
        Persona("ada", "Ada Lindqvist", f"ada@{DOMAIN}", "crypto lead (owns src/prng)"),
        Persona("bram", "Bram Okafor", f"bram@{DOMAIN}", "security reviewer"),
        Persona("fay", "Fay Novak", f"fay@{DOMAIN}", "authentication maintainer (owns src/auth)"),
        Persona("dana", "Dana Reyes", f"dana@{DOMAIN}", "release engineer"),
        Persona("eli", "Eli Marsh", f"eli@{DOMAIN}", "platform developer"),
        Persona("build-01", "build-01", f"build-01@{DOMAIN}", "release build server"),
    )
}
BUILDER = "build-01"
ROOT = Persona("board", "Release Board", f"board@{DOMAIN}", "policy owner (root key)")
SCENARIOS = ("insider", "build-server", "rewrite", "clean")
"""insider: the public timeline (the 2012 Qx change merged with one approval);
build-server: clean reviewed source, tampered shipped images; rewrite: the
insider history rewritten in 2015 to hide who made the changes; clean: the
counterfactual history in which every change was reviewed and nothing was inserted."""


@dataclass(frozen=True)
class Event:
    """One commit (and optionally a release tag) on ``branch``."""

    branch: str
    date: str
    author: str
    message: str
    changes: dict[str, str | None]
    approvers: tuple[str, ...]
    tag: str | None = None
    fork: str | None = None  # create ``branch`` from this ref first
    kind: str = ""  # "insider" or "fix": absent from the clean history


def _release(branch: str, date: str, version: str, fork: str | None = None) -> Event:
    return Event(
        branch,
        date,
        "dana",
        f"Release ScreenOS {version}",
        {"VERSION": version + "\n"},
        ("ada",),
        tag=version,
        fork=fork,
    )


IKE_V1 = "/* IKE responder: 20-byte nonces. */\nint ike_nonce_len = 20;\n"
IKE_V2 = (
    "/* IKE responder: 32-byte nonces drawn from the nonce pre-generation queue. */\n"
    "int ike_nonce_len = 32;\n"
)
README = "Lab ScreenOS platform sources (kleptolab supply-chain lab; fictional).\n"
RESEED_DOC = (
    "/* ANSI X9.31 generator seeded from Dual EC (reseeded on every call).\n"
    " * The reseed counter is global (see prng_reseed). */\n"
    '#include "dualec_params.h"\n\nvoid prng_generate(unsigned char *out, unsigned len);\n'
)


def timeline(lab_qx: int) -> list[Event]:
    """Every event of the historic (insider) timeline, in the order they are committed."""
    juniper = render_params(JUNIPER_QX.x, kat_expected(P256.lift_x(JUNIPER_QX.x)))
    lab = render_params(lab_qx, kat_expected(P256.lift_x(lab_qx)))
    fix: dict[str, str | None] = {PARAMS_PATH: juniper, AUTH_PATH: render_auth(None)}
    fix_msg = (
        "prng: restore Juniper's Dual EC Q and KAT; auth: remove the unauthorized "
        "password check (JSA10713)"
    )
    return [
        Event(
            "main",
            "2008-06-02T10:00:00-0700",
            "ada",
            "Import the ScreenOS 6.1 platform tree",
            {
                "VERSION": "6.1.0r7\n",
                "README": README,
                X931_PATH: X931_ONLY_SOURCE,
                AUTH_PATH: render_auth(None),
                "src/ike/ike.c": IKE_V1,
            },
            ("bram", "fay"),
            tag="6.1.0r7",
        ),
        Event(
            "main",
            "2008-09-15T11:30:00-0700",
            "ada",
            "prng: add Dual EC DRBG as the X9.31 seeder (Juniper's own Q, KAT)",
            {PARAMS_PATH: juniper, X931_PATH: X931_SOURCE},
            ("bram", "fay"),
        ),
        Event(
            "main",
            "2008-09-22T16:10:00-0700",
            "eli",
            "ike: 32-byte nonces and a nonce pre-generation queue",
            {"src/ike/ike.c": IKE_V2},
            ("bram",),
        ),
        _release("main", "2008-10-20T09:00:00-0700", "6.2.0r1"),
        _release("main", "2009-07-01T09:00:00-0700", "6.3.0r1"),
        _release("main", "2012-04-10T09:00:00-0700", "6.3.0r11"),
        _release("release/6.2", "2012-04-25T23:52:48-0700", "6.2.0r14", fork="6.2.0r1"),
        Event(
            "main",
            "2012-06-12T14:00:00-0700",
            "ada",
            "prng: document the global reseed counter",
            {X931_PATH: RESEED_DOC},
            ("bram", "fay"),
        ),
        Event(
            "main",
            "2012-07-17T18:42:00-0700",
            "eli",
            "prng: refresh Dual EC self-test vectors",
            {PARAMS_PATH: lab},
            ("dana",),
            kind="insider",
        ),
        _release("main", "2012-08-08T05:12:10-0700", "6.3.0r12"),
        Event(
            "release/6.2",
            "2012-08-21T19:05:00-0700",
            "eli",
            "prng: refresh Dual EC self-test vectors (backport)",
            {PARAMS_PATH: lab},
            ("dana",),
            kind="insider",
        ),
        _release("release/6.2", "2012-09-03T03:55:14-0700", "6.2.0r15"),
        _release("main", "2013-02-04T09:00:00-0800", "6.3.0r16"),
        Event(
            "main",
            "2013-03-26T21:17:00-0700",
            "eli",
            "auth: trace admin lookups with a debug format string",
            {AUTH_PATH: render_auth(LAB_MASTER_PASSWORD)},
            (),
            kind="insider",
        ),
        _release("main", "2013-04-15T09:00:00-0700", "6.3.0r17"),
        _release("release/6.2", "2014-10-06T09:00:00-0700", "6.2.0r18"),
        _release("main", "2015-03-09T09:00:00-0700", "6.3.0r19"),
        _release("main", "2015-06-22T09:00:00-0700", "6.3.0r20"),
        Event("main", "2015-12-14T02:00:00-0800", "ada", fix_msg, fix, ("bram", "fay"), kind="fix"),
        Event(
            "respin/6.3.0r12b",
            "2015-12-14T02:10:00-0800",
            "ada",
            fix_msg + " (respin)",
            fix,
            ("bram", "fay"),
            fork="6.3.0r12",
            kind="fix",
        ),
        _release("respin/6.3.0r12b", "2015-12-14T02:27:53-0800", "6.3.0r12b"),
        Event(
            "respin/6.3.0r19b",
            "2015-12-14T02:20:00-0800",
            "ada",
            fix_msg + " (respin)",
            fix,
            ("bram", "fay"),
            fork="6.3.0r19",
            kind="fix",
        ),
        _release("respin/6.3.0r19b", "2015-12-14T02:40:00-0800", "6.3.0r19b"),
        Event(
            "release/6.2",
            "2015-12-14T03:00:00-0800",
            "ada",
            fix_msg + " (backport)",
            fix,
            ("bram", "fay"),
            kind="fix",
        ),
        _release("release/6.2", "2015-12-17T09:00:00-0800", "6.2.0r19"),
        _release("main", "2015-12-17T09:30:00-0800", "6.3.0r21"),
        Event(
            "main",
            "2016-04-07T10:00:00-0700",
            "ada",
            "prng: remove Dual EC and ANSI X9.31; use HMAC_DRBG",
            {PARAMS_PATH: None, X931_PATH: None, HMAC_PATH: HMAC_SOURCE},
            ("bram", "fay"),
        ),
        _release("main", "2016-04-11T09:00:00-0700", "6.3.0r22"),
    ]


def events_for(scenario: str, lab_qx: int) -> list[Event]:
    """The source events of ``scenario`` (the clean and build-server histories drop the
    insider changes and, having nothing to fix, the fixes)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}: expected one of {', '.join(SCENARIOS)}")
    events = timeline(lab_qx)
    if scenario not in ("clean", "build-server"):
        return events
    kept: list[Event] = []
    pending: dict[str, str] = {}  # branch -> fork point of a dropped first event
    for event in events:
        if event.kind in ("insider", "fix"):
            if event.fork is not None:
                pending[event.branch] = event.fork
            continue
        fork = pending.pop(event.branch, None)
        kept.append(dataclasses.replace(event, fork=fork) if fork else event)
    return kept
