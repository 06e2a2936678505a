"""A sweep kernel over the system libcrypto (OpenSSL 3 low-level EC API, via ctypes).

Same contract as the C kernel (``sweep(xs, d, e, separate) -> (status, out)``,
see :mod:`kleptolab.drbg._fastsweep`), one candidate at a time, but with
preallocated EC_POINT/BIGNUM/BN_CTX objects and no key-object overhead: it
skips ``cryptography``'s per-call key construction and validation.  The
objects live as long as the process (freed by a finalizer).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import weakref
from typing import Any

from kleptolab.drbg._ec import x_prefilter
from kleptolab.drbg.curves import P256

__all__ = ["OsslSweep", "load"]

_NID_P256 = 415  # NID_X9_62_prime256v1
_COMPRESSED = 2  # POINT_CONVERSION_COMPRESSED
_P, _I, _CP, _SZ = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t
_SIGS: dict[str, tuple[Any, ...]] = {  # name: (restype, *argtypes)
    "EC_GROUP_new_by_curve_name": (_P, _I),
    "EC_GROUP_free": (None, _P),
    "EC_POINT_new": (_P, _P),
    "EC_POINT_free": (None, _P),
    "BN_new": (_P,),
    "BN_free": (None, _P),
    "BN_CTX_new": (_P,),
    "BN_CTX_free": (None, _P),
    "BN_bin2bn": (_P, _CP, _I, _P),
    "EC_POINT_oct2point": (_I, _P, _P, _CP, _SZ, _P),
    "EC_POINT_point2oct": (_SZ, _P, _P, _I, _CP, _SZ, _P),
    "EC_POINT_mul": (_I, _P, _P, _P, _P, _P, _P),
    "ERR_clear_error": (None,),
}


class OsslSweep:
    """Callable sweep kernel bound to one libcrypto; not thread-safe (one per thread, see ``_fastsweep``)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        fn: dict[str, Any] = {}
        for name, (restype, *argtypes) in _SIGS.items():
            func = getattr(lib, name)  # AttributeError when a symbol is missing
            func.restype, func.argtypes = restype, argtypes
            fn[name] = func
        self._fn = fn
        group = fn["EC_GROUP_new_by_curve_name"](_NID_P256)
        ctx = fn["BN_CTX_new"]()
        points = [fn["EC_POINT_new"](group) for _ in range(3)] if group else []
        bns = [fn["BN_new"]() for _ in range(2)]
        weakref.finalize(self, _free, fn, group, ctx, points, bns)
        if not group or not ctx or not all(points) or not all(bns):
            raise OSError("libcrypto could not allocate P-256 objects")
        self._group, self._ctx, self._points, self._bns = group, ctx, points, bns
        self._buf = ctypes.create_string_buffer(33)

    def __call__(self, xs: bytes, d: bytes, e: bytes, separate: bool) -> tuple[bytes, bytes]:
        fn, group, ctx, buf = self._fn, self._group, self._ctx, self._buf
        lift, mul, to_oct = fn["EC_POINT_oct2point"], fn["EC_POINT_mul"], fn["EC_POINT_point2oct"]
        bin2bn = fn["BN_bin2bn"]
        r_pt, s_pt, t_pt = self._points
        bn_d, bn_k = self._bns
        n = P256.n
        e_int = int.from_bytes(e, "big")
        if len(d) != 32 or not 0 < int.from_bytes(d, "big") < n or not 0 < e_int < n:
            raise ValueError("d and e must be 32-byte scalars in [1, n)")
        bin2bn(d, 32, bn_d)
        maybe_on_curve = x_prefilter(P256)
        count = len(xs) // 32
        status = bytearray(count)
        out = bytearray(64 * count)

        def base_x(k: int) -> bytes:
            bin2bn(k.to_bytes(32, "big"), 32, bn_k)
            mul(group, t_pt, bn_k, None, None, ctx)
            to_oct(group, t_pt, _COMPRESSED, buf, 33, ctx)
            return buf.raw[1:]

        for i in range(count):
            raw = xs[32 * i : 32 * i + 32]
            x = int.from_bytes(raw, "big")
            if not maybe_on_curve(x):
                continue
            if not lift(group, r_pt, b"\x02" + raw, 33, ctx):
                fn["ERR_clear_error"]()
                continue
            mul(group, s_pt, None, r_pt, bn_d, ctx)
            to_oct(group, s_pt, _COMPRESSED, buf, 33, ctx)
            s_raw = buf.raw[1:]
            s = int.from_bytes(s_raw, "big")
            if separate:
                if not 0 < s < n:  # the reference derives a key from s
                    status[i] = 2
                    continue
                s_raw = base_x(s)
                s = int.from_bytes(s_raw, "big")
            k = s * e_int % n
            if k == 0:
                status[i] = 2
                continue
            out[64 * i : 64 * i + 64] = s_raw + base_x(k)
            status[i] = 1
        return bytes(status), bytes(out)


def _free(fn: dict[str, Any], group: int, ctx: int, points: list[int], bns: list[int]) -> None:
    for point in points:
        fn["EC_POINT_free"](point)
    for bn in bns:
        fn["BN_free"](bn)
    fn["BN_CTX_free"](ctx)
    fn["EC_GROUP_free"](group)


def load() -> OsslSweep:
    """The kernel over the system libcrypto; ``OSError``/``AttributeError`` when unusable."""
    name = ctypes.util.find_library("crypto")
    if name is None:
        raise OSError("no libcrypto found")
    return OsslSweep(ctypes.CDLL(name))
