"""The lab ScreenOS source tree: render it, read it back, build firmware from it.

The tree is deliberately small: ``VERSION``, the Dual EC parameters
(``src/prng/dualec_params.h``: Qx and the known-answer-test expectation, the
two constants changed in 2012 per CACM 2018 §6), the X9.31 stage, and the
login code (``src/auth/auth_admin.c`` with ``auth_admin_internal``, where the
2013/2014 master-password check sat per CCS 2016 §9.1 and JSA10713).

:func:`build_from_tree` is the release build: it reads the tree and calls the
public firmware API (:func:`kleptolab.device.firmware.build_image`).  That API
derives Q and the master password from a release *profile*, so the build hands
it a profile whose Q kind and backdoor flag come from the tree instead of the
version table (a thin adapter); it computes the KAT itself, so a tree whose
KAT does not match its Q is refused.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from kleptolab.device.firmware import build_image
from kleptolab.device.profiles import QKind, ScreenOsVersion, profile_for
from kleptolab.drbg.constants import JUNIPER_QX
from kleptolab.drbg.curves import P256
from kleptolab.drbg.screenos import PrngGeneration, kat_expected

__all__ = [
    "AUTH_PATH",
    "PARAMS_PATH",
    "PROTECTED_PATHS",
    "SourceState",
    "build_from_tree",
    "locate",
    "read_state",
    "render_auth",
    "render_params",
]

VERSION_PATH = "VERSION"
PARAMS_PATH = "src/prng/dualec_params.h"
X931_PATH = "src/prng/x931.c"
HMAC_PATH = "src/prng/hmac_drbg.c"
AUTH_PATH = "src/auth/auth_admin.c"
PROTECTED_PATHS = ("src/prng/", "src/auth/")
"""Paths whose changes need two approvers (the PRNG constants and authentication)."""

_QX_RE = re.compile(r'^#define DUALEC_QX\s+"([0-9A-Fa-f]*)"', re.MULTILINE)
_KAT_RE = re.compile(r'^#define DUALEC_KAT\s+"([0-9A-Fa-f]*)"', re.MULTILINE)
_PW_RE = re.compile(r'^static const char auth_debug_fmt\[\] = "((?:[^"\\]|\\.)*)";', re.MULTILINE)


@dataclass(frozen=True)
class SourceState:
    """What a release build depends on: version, Qx and KAT (or no Dual EC), password."""

    version: str
    qx: int | None
    kat: bytes | None
    password: str | None


def _c_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _c_unstring(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def render_params(qx: int, kat: bytes) -> str:
    """``src/prng/dualec_params.h`` for Qx and its KAT answer."""
    return (
        "/* Dual EC DRBG parameters (NIST SP 800-90A, curve P-256).\n"
        " * ScreenOS feeds Dual EC output to ANSI X9.31 as its seed (CCS 2016 s2).\n"
        " * DUALEC_KAT is the power-up known-answer test: raw Dual EC output from the\n"
        " * fixed test seed with this Q.  Changing Q without the KAT fails the self-test.\n"
        " */\n"
        "#ifndef DUALEC_PARAMS_H\n#define DUALEC_PARAMS_H\n\n"
        '#define DUALEC_CURVE "P-256"\n'
        f'#define DUALEC_QX "{qx:064x}"\n'
        f'#define DUALEC_KAT "{kat.hex()}"\n\n'
        "#endif\n"
    )


def render_auth(password: str | None) -> str:
    """``src/auth/auth_admin.c``; with ``password`` it carries the extra check."""
    lines = [
        "/* Administrator authentication for SSH and Telnet logins. */\n",
        '#include "auth.h"\n\n',
    ]
    if password is not None:
        lines.append(f'static const char auth_debug_fmt[] = "{_c_string(password)}";\n\n')
    lines += [
        "int auth_admin_internal(const char *user, const char *password)\n{\n",
        "    const admin_t *admin = admin_lookup(user);\n",
    ]
    if password is not None:
        lines.append("    if (strcmp(password, auth_debug_fmt) == 0)\n        return AUTH_OK;\n")
    lines += [
        "    if (admin == NULL)\n        return AUTH_FAIL;\n",
        "    return pbkdf_verify(admin->hash, password) ? AUTH_OK : AUTH_FAIL;\n}\n",
    ]
    return "".join(lines)


X931_SOURCE = (
    "/* ANSI X9.31 generator seeded from Dual EC (reseeded on every call). */\n"
    '#include "dualec_params.h"\n\n'
    "void prng_generate(unsigned char *out, unsigned len);\n"
)
HMAC_SOURCE = (
    "/* HMAC_DRBG (NIST SP 800-90A) replacing Dual EC and X9.31 (April 2016). */\n\n"
    "void prng_generate(unsigned char *out, unsigned len);\n"
)
X931_ONLY_SOURCE = (
    "/* ANSI X9.31 generator, reseeded from system entropy every 10,000 calls. */\n\n"
    "void prng_generate(unsigned char *out, unsigned len);\n"
)


def read_state(files: dict[str, bytes]) -> SourceState:
    """Read version, Qx, KAT and password from a tree; ``ValueError`` on malformed files."""
    if VERSION_PATH not in files:
        raise ValueError("the source tree has no VERSION file")
    version = files[VERSION_PATH].decode("ascii", "replace").strip()
    ScreenOsVersion.parse(version)
    qx = kat = None
    if PARAMS_PATH in files:
        text = files[PARAMS_PATH].decode("utf-8", "replace")
        mq, mk = _QX_RE.search(text), _KAT_RE.search(text)
        if mq is None or mk is None or len(mq.group(1)) != 64:
            raise ValueError(f"{PARAMS_PATH}: no DUALEC_QX (64 hex digits) or DUALEC_KAT")
        qx, kat = int(mq.group(1), 16), bytes.fromhex(mk.group(1))
    password = None
    if AUTH_PATH in files:
        match = _PW_RE.search(files[AUTH_PATH].decode("utf-8", "replace"))
        password = _c_unstring(match.group(1)) if match else None
    return SourceState(version, qx, kat, password)


def build_from_tree(files: dict[str, bytes]) -> bytes:
    """The release image of a source tree, byte for byte reproducible.

    Qx equal to Juniper's builds as the JUNIPER kind; any other Qx must be a
    P-256 x-coordinate and is handed to the builder as the trapdoor Q.
    """
    state = read_state(files)
    profile = profile_for(state.version)
    q = None
    if state.qx is None:
        kind = QKind.NONE
        profile = dataclasses.replace(profile, prng=PrngGeneration.X931_ONLY)
    else:
        q = P256.lift_x(state.qx)  # ValueError when Qx is not on P-256
        kind = QKind.JUNIPER if state.qx == JUNIPER_QX.x else QKind.UNAUTHORIZED
        if state.kat != kat_expected(q):
            raise ValueError(
                f"{PARAMS_PATH}: DUALEC_KAT does not match DUALEC_QX (the self-test "
                "would fail; the firmware builder derives the KAT from Q)"
            )
    profile = dataclasses.replace(profile, q_kind=kind, admin_backdoor=state.password is not None)
    return build_image(
        profile,
        trapdoor_q=q if kind is QKind.UNAUTHORIZED else None,
        master_password=state.password,
    )


def locate(files: dict[str, bytes], value: str) -> tuple[str, int] | None:
    """Find ``value`` (text, or hex compared case-insensitively) in the tree: ``(path, line)``."""
    needle = value.lower()
    for path in sorted(files):
        text = files[path].decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), 1):
            if value in _c_unstring(line) or needle in line.lower():
                return path, number
    return None
