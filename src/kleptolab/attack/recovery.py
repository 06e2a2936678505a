"""State recovery as engine-agnostic work units, with a per-nonce cache.

The unit of work is "one nonce, one slice of the 2^16 unknown prefixes" →
candidate states s2 (the state *after* the call that produced the nonce).
A :class:`RecoveryJob` holds only plain, picklable data and runs
:func:`kleptolab.drbg.recover.recover_chunk`, so a process pool or Dask
can execute it.  The candidates per nonce (and per gateway) are kept in a
:class:`~kleptolab.attack.store.StateStore` (SQLite), so a nonce is never swept twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from kleptolab.attack.store import StateStore
from kleptolab.drbg import recover

__all__ = ["NONCE_SIZE", "SPACE", "MemoryCache", "NonceCache", "RecoveryJob", "StateCache", "jobs_for"]

NONCE_SIZE = 32
"""A ScreenOS 6.2/6.3 nonce: one raw 32-byte Dual EC output."""
SPACE = recover.SCREENOS_30_2.candidates
"""Unknown prefixes of the first 30-byte block (2^16)."""


@dataclass(frozen=True)
class RecoveryJob:
    """Sweep prefixes ``[start, stop)`` of ``nonce`` with the trapdoor (as its JSON dict)."""

    nonce: bytes
    trapdoor: dict[str, Any]
    start: int
    stop: int
    leading_zeros: int = 0

    @property
    def size(self) -> int:
        return self.stop - self.start

    def run(self) -> tuple[bytes, list[int]]:
        """Return ``(nonce, candidate states)``."""
        states = recover.recover_chunk(
            self.nonce,
            self.trapdoor,
            self.start,
            self.stop,
            recover.SCREENOS_30_2.name,
            self.leading_zeros,
        )
        return self.nonce, states


def run_job(job: RecoveryJob) -> tuple[bytes, list[int]]:
    """Module-level entry point for engines that pickle a function."""
    return job.run()


def jobs_for(
    nonce: bytes, trapdoor: dict[str, Any], chunks: int, quirk_shifts: int = 0
) -> list[RecoveryJob]:
    """Split one nonce's sweep into ``chunks`` jobs (per assumed leading-zero count)."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"a Dual EC nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
    if not 1 <= chunks <= SPACE:
        raise ValueError(f"chunks must be in [1, {SPACE}], got {chunks}")
    step = -(-SPACE // chunks)
    return [
        RecoveryJob(nonce, trapdoor, lo, min(lo + step, SPACE), shift)
        for shift in range(quirk_shifts + 1)
        for lo in range(0, SPACE, step)
    ]


class NonceCache(Protocol):
    """Candidate states per nonce: :class:`~kleptolab.attack.store.StateStore` or :class:`MemoryCache`."""

    def get(self, nonce: bytes) -> list[int] | None: ...

    def put(self, nonce: bytes, states: list[int]) -> None: ...

    def __contains__(self, nonce: object) -> bool: ...


class MemoryCache:
    """A plain in-process :class:`NonceCache` (what one gateway job works with)."""

    def __init__(self, states: dict[bytes, list[int]] | None = None) -> None:
        self.states: dict[bytes, list[int]] = dict(states or {})
        self.added: dict[bytes, list[int]] = {}

    def get(self, nonce: bytes) -> list[int] | None:
        return self.states.get(nonce)

    def put(self, nonce: bytes, states: list[int]) -> None:
        self.states[nonce] = self.added[nonce] = sorted(set(states))

    def __contains__(self, nonce: object) -> bool:
        return nonce in self.states


StateCache = StateStore
"""The state cache of earlier versions is now the SQLite :class:`StateStore` (same methods)."""
