"""Dual EC state recovery with the trapdoor d (Shumow-Ferguson 2007; CCS 2016 §2, §6).

For an observed block ``b`` = low 30 bytes of ``x(s1*Q)``, every candidate
x = (prefix << 240) | b that lies on the curve lifts to a point R; with the
true prefix, ``R = ±s1*Q`` and ``x(d*R) = x(s1*P)`` is the generator's next
state.  The bytes observed from the following block filter the candidates.

* :data:`SCREENOS_30_2` (one ``dualec32`` call, 30 + 2 bytes): 2^16 prefixes,
  2 scalar multiplications per on-curve candidate; returns s2, the state from
  which the next ``dualec32`` call continues.  About 0.5 false survivors per
  sweep remain: :func:`confirm_states` settles them.
* :data:`SP800_90A_30_30` (two separate SP 800-90A one-block calls, with the
  step-14 update between): 3 multiplications per candidate; returns the state
  after the second call.
* :data:`TRUNCATED_28` (28 bytes of a block, no filter): 2^32 candidates; it is
  exposed for :meth:`RecoveryLayout.estimate_seconds` and refused by
  :func:`recover_states` unless ``max_candidates`` is raised.

The BN_bn2bin quirk: the 2-byte filter also accepts the unpadded head of the
second block (a few extra survivors), and ``quirk_shifts=k`` adds k more
sweeps that assume the first block had 1..k leading zero bytes (written
left-aligned, tail stale).

Point work runs in OpenSSL: ECDH gives ``x(d*R)``, and since Q = e*G,
``x(s*Q) = x((s*e mod n)*G)`` uses the fixed-base tables.  The sweep is split
into prefix ranges handled by :func:`recover_chunk`, a pure, picklable work
unit, over a process pool.  Where the system libcrypto is usable and passes a
self-check (:mod:`kleptolab.drbg._fastsweep`), a chunk calls its EC API
directly through ctypes instead (about 1.35x faster); the survivors are the
same.  ``KLEPTOLAB_RECOVER_BACKEND=reference`` forces the path above.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kleptolab.drbg import _ec, _fastsweep
from kleptolab.drbg.dualec import dualec_blocks, outlen
from kleptolab.drbg.trapdoor import Trapdoor

__all__ = [
    "LAYOUTS",
    "SCREENOS_30_1",
    "SCREENOS_30_2",
    "SP800_90A_30_30",
    "TRUNCATED_28",
    "RecoveryLayout",
    "confirm_states",
    "predict_output",
    "recover_chunk",
    "recover_states",
]

_ECDH = ec.ECDH()
_COMPRESSED = (Encoding.X962, PublicFormat.CompressedPoint)
# Measured per-operation costs on the project's 2-vCPU machine (µs), for estimates.
_COST_FILTER, _COST_LIFT, _COST_VAR, _COST_FIXED = 2.2, 20.0, 60.0, 31.0


@dataclass(frozen=True)
class RecoveryLayout:
    """How observed bytes map onto Dual EC blocks (P-256, 30-byte blocks)."""

    name: str
    block_len: int  # observed leading bytes of the first block
    next_len: int  # observed leading bytes of the following block (the filter)
    separate_calls: bool  # blocks from two SP 800-90A calls (step-14 update between)
    description: str

    @property
    def observed_len(self) -> int:
        return self.block_len + self.next_len

    @property
    def unknown_bits(self) -> int:
        """Bits of x(s1*Q) the attacker must guess (16 for a full P-256 block)."""
        return 16 + 8 * (30 - self.block_len)

    @property
    def candidates(self) -> int:
        return 1 << self.unknown_bits

    @property
    def mults_per_candidate(self) -> int:
        """Scalar multiplications per on-curve candidate."""
        return 3 if self.separate_calls else 2

    def estimate_seconds(self, workers: int = 1) -> float:
        """Rough wall time of a full sweep with this package on the project's machine."""
        per_point = _COST_LIFT + _COST_VAR + _COST_FIXED * (self.mults_per_candidate - 1)
        micros = self.candidates * (_COST_FILTER + per_point / 2)
        return micros / 1e6 / max(1, workers)


SCREENOS_30_2 = RecoveryLayout(
    "screenos-30+2", 30, 2, False, "ScreenOS dualec32: 30 bytes of block 1 + 2 of block 2, one call"
)
SCREENOS_30_1 = RecoveryLayout(
    "screenos-30+1",
    30,
    1,
    False,
    "31 bytes of a dualec32 output: 8-bit filter, many false survivors",
)
SP800_90A_30_30 = RecoveryLayout(
    "sp800-90a-30|30", 30, 30, True, "two separate SP 800-90A one-block calls (step 14 between)"
)
TRUNCATED_28 = RecoveryLayout(
    "truncated-28",
    28,
    0,
    False,
    "28 bytes of one block (e.g. a TLS random): 2^32 candidates, no filter",
)
LAYOUTS: dict[str, RecoveryLayout] = {
    lay.name: lay for lay in (SCREENOS_30_2, SCREENOS_30_1, SP800_90A_30_30, TRUNCATED_28)
}

_BLOCK_MASK = (1 << 240) - 1


@lru_cache(maxsize=8)
def _trapdoor_from_text(text: str) -> Trapdoor:
    return Trapdoor.from_json(json.loads(text))


def _trapdoor(data: dict[str, Any]) -> Trapdoor:
    """Validate once per process and key file (validation costs a pure-Python d*Q)."""
    return _trapdoor_from_text(json.dumps(data, sort_keys=True))


def _quirk_head(r: int, nbytes: int) -> bytes:
    value = r & _BLOCK_MASK
    return value.to_bytes((value.bit_length() + 7) // 8, "big")[:nbytes]


def _next_block_matches(r: bytes, expected: bytes) -> bool:
    """Does r = x(s·Q) (32 bytes) give the observed next-block bytes ``expected``?

    Either the padded reading (bytes 2.. of r) or, when the 30-byte block has a
    leading zero byte, the BN_bn2bin unpadded one; nothing observed matches all.
    """
    size = len(expected)
    return (
        not expected
        or r[2 : 2 + size] == expected
        or (r[2] == 0 and _quirk_head(int.from_bytes(r, "big"), size) == expected)
    )


def recover_chunk(
    output: bytes,
    trapdoor_dict: dict[str, Any],
    start: int,
    stop: int,
    layout_name: str = SCREENOS_30_2.name,
    leading_zeros: int = 0,
) -> list[int]:
    """Sweep candidate indices ``[start, stop)``; return the surviving states.

    Pure and picklable (plain arguments, no shared state), so any process or
    machine can run it.  ``leading_zeros`` > 0 assumes the first block had that
    many leading zero bytes hidden by the BN_bn2bin quirk.
    """
    layout = LAYOUTS[layout_name]
    trapdoor = _trapdoor(trapdoor_dict)
    curve = trapdoor.curve
    if curve.size != 32 or outlen(curve) != 30:
        raise ValueError("state recovery is implemented for P-256 (30-byte blocks)")
    if len(output) != layout.observed_len:
        raise ValueError(
            f"{layout.name} needs {layout.observed_len} observed bytes, got {len(output)}"
        )
    significant = layout.block_len - leading_zeros
    tail_bits = 8 * (30 - layout.block_len)
    low = int.from_bytes(output[:significant], "big") << tail_bits
    expected = output[layout.block_len :]
    indices = range(start, stop)
    kernel = _fastsweep.kernel()
    if kernel is None:
        return _sweep_reference(indices, layout, trapdoor, low, tail_bits, expected)
    return _sweep_fast(kernel, indices, layout, trapdoor, low, tail_bits, expected)


def _candidate_x(index: int, low: int, tail_bits: int) -> int:
    return ((index >> tail_bits) << 240) | low | (index & ((1 << tail_bits) - 1))


def _sweep_fast(
    kernel: _fastsweep.Kernel,
    indices: range,
    layout: RecoveryLayout,
    trapdoor: Trapdoor,
    low: int,
    tail_bits: int,
    expected: bytes,
) -> list[int]:
    """The same survivors as :func:`_sweep_reference`, from a fast kernel."""
    xs = b"".join(_candidate_x(i, low, tail_bits).to_bytes(32, "big") for i in indices)
    key = (trapdoor.d.to_bytes(32, "big"), trapdoor.e.to_bytes(32, "big"))
    try:
        status, out = kernel(xs, *key, layout.separate_calls)
    except (ValueError, ArithmeticError) as exc:  # e.g. an unreduced key: fail safe
        _fastsweep.log.debug("fast sweep refused the chunk (%s); using the reference path", exc)
        return _sweep_reference(indices, layout, trapdoor, low, tail_bits, expected)
    found: list[int] = []
    size = len(expected)
    for k in (k for k, code in enumerate(status) if code):
        if status[k] != 1:  # a scalar the kernel does not handle: the reference decides
            found += _sweep_reference([indices[k]], layout, trapdoor, low, tail_bits, expected)
            continue
        s = int.from_bytes(out[64 * k : 64 * k + 32], "big")
        r = out[64 * k + 32 : 64 * k + 64]  # x(s*e*G) = the compressed block without its tag
        if layout.separate_calls:
            if r[2 : 2 + size] == expected:
                found.append(_ec.base_mult_x(trapdoor.curve, s))
        elif _next_block_matches(r, expected):
            found.append(s)
    return found


def _sweep_reference(
    indices: Iterable[int],
    layout: RecoveryLayout,
    trapdoor: Trapdoor,
    low: int,
    tail_bits: int,
    expected: bytes,
) -> list[int]:
    """Survivors among ``indices``, one candidate at a time through ``cryptography``."""
    curve = trapdoor.curve
    head = slice(3, 3 + layout.next_len)  # compressed x: 1 tag byte, 2 bytes above the block
    n, e = curve.n, trapdoor.e
    ec_curve = _ec.ec_curve(curve)
    d_key = _ec.private_key(curve, trapdoor.d)
    derive, lift = ec.derive_private_key, ec.EllipticCurvePublicKey.from_encoded_point
    maybe_on_curve = _ec.x_prefilter(curve)
    found: list[int] = []
    for index in indices:
        x = _candidate_x(index, low, tail_bits)
        if not maybe_on_curve(x):
            continue
        try:
            point = lift(ec_curve, b"\x02" + x.to_bytes(32, "big"))
        except ValueError:
            continue
        s = int.from_bytes(d_key.exchange(_ECDH, point), "big")  # x(d*R)
        if layout.separate_calls:
            s_next = int.from_bytes(
                derive(s, ec_curve).public_key().public_bytes(*_COMPRESSED)[1:], "big"
            )
            block = derive(s_next * e % n, ec_curve).public_key().public_bytes(*_COMPRESSED)
            if block[head] == expected:
                found.append(_ec.base_mult_x(curve, s_next))
            continue
        if not expected:
            found.append(s)
            continue
        block = derive(s * e % n, ec_curve).public_key().public_bytes(*_COMPRESSED)
        if _next_block_matches(block[1:], expected):
            found.append(s)
    return found


def _chunks(space: range, pieces: int) -> list[tuple[int, int]]:
    size = max(1, -(-len(space) // pieces))
    return [(lo, min(lo + size, space.stop)) for lo in range(space.start, space.stop, size)]


def recover_states(
    output: bytes,
    trapdoor: Trapdoor,
    layout: RecoveryLayout = SCREENOS_30_2,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    prefixes: range | None = None,
    quirk_shifts: int = 0,
    max_candidates: int = 1 << 20,
) -> list[int]:
    """Return every state consistent with ``output`` (sorted, possibly empty or several).

    ``prefixes`` restricts the sweep to a sub-range of candidate indices (tests,
    distributed runs); ``workers`` defaults to all cores; ``progress(done,
    total)`` is called as chunks finish.
    """
    if len(output) != layout.observed_len:
        raise ValueError(
            f"{layout.name} needs {layout.observed_len} observed bytes, got {len(output)}"
        )
    space = range(layout.candidates) if prefixes is None else prefixes
    if space.step != 1 or space.start < 0 or space.stop > layout.candidates:
        raise ValueError(f"prefixes must be a contiguous sub-range of range({layout.candidates})")
    if not 0 <= quirk_shifts < layout.block_len:
        raise ValueError("quirk_shifts must be between 0 and the block length")
    total = len(space) * (1 + quirk_shifts)
    if total > max_candidates:
        raise ValueError(
            f"{layout.name} needs {total} candidates (about {layout.estimate_seconds():.0f} s on one core); "
            f"raise max_candidates to run it"
        )
    workers = workers or os.cpu_count() or 1
    data = trapdoor.to_json()
    jobs = [
        (output, data, lo, hi, layout.name, shift)
        for shift in range(quirk_shifts + 1)
        for lo, hi in _chunks(space, 1 if workers == 1 else 16 * workers)
    ]
    found: set[int] = set()
    done = 0
    if workers == 1 or len(jobs) == 1:
        for job in jobs:
            found.update(recover_chunk(*job))
            done += job[3] - job[2]
            if progress is not None:
                progress(done, total)
        return sorted(found)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(recover_chunk, *job): job[3] - job[2] for job in jobs}
        for future in as_completed(futures):
            found.update(future.result())
            done += futures[future]
            if progress is not None:
                progress(done, total)
    return sorted(found)


def predict_output(state: int, trapdoor: Trapdoor, layout: RecoveryLayout = SCREENOS_30_2) -> bytes:
    """The next output of the generator from ``state`` (one dualec32 call, or one SP 800-90A block)."""
    if layout.separate_calls:
        s = _ec.base_mult_x(trapdoor.curve, state)
        r = _ec.mult_x(trapdoor.curve, s, trapdoor.q)
        return (r & _BLOCK_MASK).to_bytes(30, "big")
    r1, r2, _ = dualec_blocks(state, trapdoor.q, trapdoor.curve)
    return (r1 & _BLOCK_MASK).to_bytes(30, "big") + (r2 & _BLOCK_MASK).to_bytes(30, "big")[:2]


def _matches(observed: bytes, state: int, trapdoor: Trapdoor, layout: RecoveryLayout) -> bool:
    predicted = predict_output(state, trapdoor, layout)
    if observed == predicted[: len(observed)]:
        return True
    if layout.separate_calls:
        return False
    # BN_bn2bin view: significant bytes left-aligned; the rest of each slot is stale (wildcard).
    r1, r2, _ = dualec_blocks(state, trapdoor.q, trapdoor.curve)
    pattern: list[int | None] = [None] * 32
    for offset, value, room in ((0, r1, 30), (30, r2, 2)):
        for i, byte in enumerate(_quirk_head(value, room)):
            pattern[offset + i] = byte
    return all(want is None or want == got for want, got in zip(pattern, observed, strict=False))


def confirm_states(
    candidates: Iterable[int],
    trapdoor: Trapdoor,
    *,
    next_output: bytes | None = None,
    predicate: Callable[[int], bool] | None = None,
    layout: RecoveryLayout = SCREENOS_30_2,
) -> list[int]:
    """Keep the candidates that produce ``next_output`` and/or satisfy ``predicate``."""
    if next_output is None and predicate is None:
        raise ValueError("confirm_states needs next_output, predicate, or both")
    if next_output is not None and not 0 < len(next_output) <= len(
        predict_output(1, trapdoor, layout)
    ):
        raise ValueError("next_output must be 1 to 32 bytes (one further call)")
    kept = []
    for state in candidates:
        if next_output is not None and not _matches(next_output, state, trapdoor, layout):
            continue
        if predicate is not None and not predicate(state):
            continue
        kept.append(state)
    return kept
