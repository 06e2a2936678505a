"""A sweep kernel over the system libcrypto (OpenSSL 3 low-level EC API, via ctypes).

Same contract as the C kernel (``sweep(xs, d, e, separate) -> (status, out)``,
see :mod:`kleptolab.drbg._fastsweep`), with preallocated EC_POINT/BIGNUM/BN_CTX
objects and no key-object overhead: it skips ``cryptography``'s per-call key
construction and validation.  The objects live as long as the process (freed
by a finalizer).

Two savings over one-candidate-at-a-time (the profile was 46% EC_POINT_mul,
16% BN_mod_sqrt, and a field inversion per point read back):

* candidates whose x³ - 3x + b is a non-residue mod p are dropped by
  gmpy2's Jacobi symbol (2 µs) when gmpy2 is installed (``kleptolab[fast]``);
  otherwise the decompression's failed square root rejects them (about 34 µs
  each; OpenSSL's ``BN_kronecker`` was measured at 19 µs, no better);
* the products d*R (and later k*G) of a batch of candidates are converted to
  affine together (``EC_POINTs_make_affine``: Montgomery's simultaneous
  inversion, one inversion per batch instead of one per point), and their x
  read directly (``EC_POINT_get_Jprojective_coordinates_GFp`` with Z = 1).
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
    "BN_bn2binpad": (_I, _P, _CP, _I),
    "EC_POINTs_make_affine": (_I, _P, _SZ, _P, _P),
    "EC_POINT_get_Jprojective_coordinates_GFp": (_I, _P, _P, _P, _P, _P, _P),
}
_BATCH = 128  # points converted to affine together (one shared field inversion per batch)


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
        array = _P * _BATCH
        self._slots, self._slots2 = array(), array()
        for slots in (self._slots, self._slots2):
            for j in range(_BATCH):
                slots[j] = fn["EC_POINT_new"](group)
        extra = [fn["BN_new"]()]
        weakref.finalize(self, _free, fn, None, None, list(self._slots) + list(self._slots2), extra)
        if not all(self._slots) or not all(self._slots2) or not all(extra):
            raise OSError("libcrypto could not allocate P-256 objects")
        self._extra = extra

    def __call__(self, xs: bytes, d: bytes, e: bytes, separate: bool) -> tuple[bytes, bytes]:
        fn, group, ctx = self._fn, self._group, self._ctx
        lift, mul = fn["EC_POINT_oct2point"], fn["EC_POINT_mul"]
        bin2bn = fn["BN_bin2bn"]
        r_pt = self._points[0]
        bn_d = self._bns[0]
        n = P256.n
        maybe_on_curve = x_prefilter(P256)
        e_int = int.from_bytes(e, "big")
        if len(d) != 32 or not 0 < int.from_bytes(d, "big") < n or not 0 < e_int < n:
            raise ValueError("d and e must be 32-byte scalars in [1, n)")
        bin2bn(d, 32, bn_d)
        count = len(xs) // 32
        status = bytearray(count)
        out = bytearray(64 * count)
        todo: list[tuple[int, bytes]] = []  # (candidate index, raw x) whose point lifted; d*R pending
        for i in range(count):
            raw = xs[32 * i : 32 * i + 32]
            x = int.from_bytes(raw, "big")
            if not maybe_on_curve(x):
                continue  # x^3 - 3x + b is a non-residue (gmpy2's Jacobi symbol): no square root to try
            if not lift(group, r_pt, b"\x02" + raw, 33, ctx):
                fn["ERR_clear_error"]()
                continue
            slot = self._slots[len(todo)]
            mul(group, slot, None, r_pt, bn_d, ctx)
            todo.append((i, raw))
            if len(todo) == _BATCH:
                self._finish(todo, e_int, separate, status, out)
                todo = []
        if todo:
            self._finish(todo, e_int, separate, status, out)
        return bytes(status), bytes(out)

    def _xs(self, points: Any, count: int) -> list[bytes]:
        """Affine x of ``count`` points of ``points`` (one simultaneous inversion)."""
        fn, group, ctx = self._fn, self._group, self._ctx
        bn_x = self._extra[0]
        if not fn["EC_POINTs_make_affine"](group, count, points, ctx):
            raise ArithmeticError("EC_POINTs_make_affine failed (a point at infinity?)")
        get, bn2bin, buf = fn["EC_POINT_get_Jprojective_coordinates_GFp"], fn["BN_bn2binpad"], self._buf
        found = []
        for j in range(count):
            get(group, points[j], bn_x, None, None, ctx)
            bn2bin(bn_x, buf, 32)
            found.append(buf.raw[:32])
        return found

    def _base(self, scalars: list[int]) -> list[bytes]:
        """x(k*G) for every k (fixed-base tables), converted to affine together."""
        fn, group, ctx = self._fn, self._group, self._ctx
        bin2bn, mul, bn_k = fn["BN_bin2bn"], fn["EC_POINT_mul"], self._bns[1]
        for j, k in enumerate(scalars):
            bin2bn(k.to_bytes(32, "big"), 32, bn_k)
            mul(group, self._slots2[j], bn_k, None, None, ctx)
        return self._xs(self._slots2, len(scalars))

    def _finish(
        self, todo: list[tuple[int, bytes]], e_int: int, separate: bool, status: bytearray, out: bytearray
    ) -> None:
        n = P256.n
        s_raws = self._xs(self._slots, len(todo))
        if separate:
            ok = [(i, int.from_bytes(r, "big")) for (i, _), r in zip(todo, s_raws, strict=True)]
            for i, s in ok:
                if not 0 < s < n:  # the reference derives a key from s
                    status[i] = 2
            ok = [(i, s) for i, s in ok if 0 < s < n]
            s_raws = self._base([s for _, s in ok])
            todo = [(i, b"") for i, _ in ok]
        pairs = []
        for (i, _), s_raw in zip(todo, s_raws, strict=True):
            k = int.from_bytes(s_raw, "big") * e_int % n
            if k == 0:
                status[i] = 2
                continue
            pairs.append((i, s_raw, k))
        r_raws = self._base([k for _, _, k in pairs])
        for (i, s_raw, _), r_raw in zip(pairs, r_raws, strict=True):
            out[64 * i : 64 * i + 64] = s_raw + r_raw
            status[i] = 1


def _free(fn: dict[str, Any], group: int | None, ctx: int | None, points: list[int], bns: list[int]) -> None:
    for point in points:
        if point:
            fn["EC_POINT_free"](point)
    for bn in bns:
        if bn:
            fn["BN_free"](bn)
    if ctx is not None:
        fn["BN_CTX_free"](ctx)
    if group is not None:
        fn["EC_GROUP_free"](group)


def load() -> OsslSweep:
    """The kernel over the system libcrypto; ``OSError``/``AttributeError`` when unusable."""
    name = ctypes.util.find_library("crypto")
    if name is None:
        raise OSError("no libcrypto found")
    return OsslSweep(ctypes.CDLL(name))
