"""Optional fast backend for :func:`kleptolab.drbg.recover.recover_chunk`.

A kernel ``sweep(xs, d, e, separate) -> (status, out)`` takes N big-endian
32-byte x candidates; for each that lifts to a point R of P-256 it gives
``s = x(d*R)`` (``separate``: ``s = x(x(d*R)*G)``) and ``r = x(((s*e) mod n)*G)``:
``status[i]`` is 0 (not on the curve or x >= p), 1 (``out[64i:64i+64]`` is
s || r) or 2 (a scalar the reference path must decide).  The one kernel is
:mod:`kleptolab.drbg._ossl` (ctypes over the system libcrypto).

:func:`kernel` hands it out only after a self-check against ``cryptography``
passed in this process; otherwise, or when the environment variable
``KLEPTOLAB_RECOVER_BACKEND`` is ``reference``, it returns ``None`` and the
caller keeps the reference path.  Failures are logged at debug level, never
raised.

Kernels are per thread: an ``OsslSweep`` owns BN_CTX and EC_POINT scratch
objects that two threads must not share (libcrypto objects are not
thread-safe; sharing one crashed with two Dask worker threads).  Each thread
loads and self-checks its own kernel once; ctypes drops the GIL inside each
libcrypto call, so threads sweep in parallel.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable

from kleptolab.drbg import _ec
from kleptolab.drbg.curves import P256

__all__ = ["BACKEND_ENV", "Kernel", "kernel", "openssl_kernel", "self_check"]

BACKEND_ENV = "KLEPTOLAB_RECOVER_BACKEND"  # "auto" (default), "openssl" or "reference"
Kernel = Callable[[bytes, bytes, bytes, bool], tuple[bytes, bytes]]

log = logging.getLogger(__name__)


def _expected(d: int, e: int, x: int, separate: bool) -> bytes | None:
    """The kernel's answer for candidate ``x``, through OpenSSL (None: not on the curve)."""
    p = P256.p
    rhs = (x * x * x + P256.a * x + P256.b) % p
    y = pow(rhs, (p + 1) // 4, p)
    if x >= p or y * y % p != rhs:
        return None
    s = _ec.mult_x(P256, d, (x, y))
    if separate:
        s = _ec.base_mult_x(P256, s)
    r = _ec.base_mult_x(P256, s * e % P256.n)
    return s.to_bytes(32, "big") + r.to_bytes(32, "big")


def self_check(sweep: Kernel) -> bool:
    """True when ``sweep`` agrees with OpenSSL on known points, off-curve values and x >= p."""
    d = (1 << 255) + 0x1D5EC  # a scalar with a leading zero nibble below the top bit
    e = 0xE1E1 << 200 | 12345
    xs = [_ec.base_mult_x(P256, k) for k in (1, 2, 3, 0xC0FFEE)]
    xs += [5, P256.p, (1 << 256) - 1]  # x = 5 is not on P-256; the others are >= p
    blob = b"".join(x.to_bytes(32, "big") for x in xs)
    for separate in (False, True):
        status, out = sweep(blob, d.to_bytes(32, "big"), e.to_bytes(32, "big"), separate)
        for i, x in enumerate(xs):
            want = _expected(d, e, x, separate)
            got = out[64 * i : 64 * i + 64] if status[i] == 1 else None
            if status[i] not in (0, 1) or got != want:
                return False
    return True


_local = threading.local()


def openssl_kernel() -> Kernel | None:
    """This thread's self-checked ctypes kernel over the system libcrypto, or ``None`` (debug log)."""
    try:
        cached: Kernel | None = _local.openssl
    except AttributeError:
        cached = _local.openssl = _load("kleptolab.drbg._ossl")
    return cached


def _load(module_name: str) -> Kernel | None:
    try:
        module = importlib.import_module(module_name)
        sweep: Kernel = module.load()
        if self_check(sweep):
            return sweep
        log.debug(
            "fast sweep kernel %s failed its self-check; using the reference path", module_name
        )
    except Exception as exc:  # no libcrypto, a missing symbol, an allocation failure: never fatal
        log.debug(
            "fast sweep kernel %s unavailable (%s); using the reference path", module_name, exc
        )
    return None


def kernel() -> Kernel | None:
    """The backend :func:`recover_chunk` should use: a kernel, or ``None`` for the reference path."""
    choice = os.environ.get(BACKEND_ENV, "auto")
    if choice == "reference":
        return None
    if choice not in ("auto", "openssl"):
        log.debug("%s=%r is not auto, openssl or reference; using auto", BACKEND_ENV, choice)
    return openssl_kernel()
