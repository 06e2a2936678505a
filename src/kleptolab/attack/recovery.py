"""State recovery as engine-agnostic work units, with a per-nonce cache.

The unit of work is "one nonce, one slice of the 2^16 unknown prefixes" →
candidate states s2 (the state *after* the call that produced the nonce).
A :class:`RecoveryJob` holds only plain, picklable data and runs
:func:`kleptolab.drbg.recover.recover_chunk`, so a process pool, Ray or Dask
can execute it.  :class:`StateCache` remembers the candidates per nonce (and
can persist them as JSON), so a nonce is never swept twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kleptolab.drbg import recover

__all__ = ["NONCE_SIZE", "SPACE", "RecoveryJob", "StateCache", "jobs_for"]

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


class StateCache:
    """Candidate states per nonce; optionally loaded from and saved to a JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._states: dict[bytes, list[int]] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data["states"]
            for nonce_hex, states in entries.items():
                self._states[bytes.fromhex(nonce_hex)] = [int(s, 16) for s in states]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"state cache {path} is unreadable: {exc}") from None

    def get(self, nonce: bytes) -> list[int] | None:
        return self._states.get(nonce)

    def put(self, nonce: bytes, states: list[int]) -> None:
        self._states[nonce] = sorted(set(states))

    def __contains__(self, nonce: object) -> bool:
        return nonce in self._states

    def __len__(self) -> int:
        return len(self._states)

    def items(self) -> list[tuple[bytes, list[int]]]:
        """Every (nonce, candidate states) pair."""
        return list(self._states.items())

    def save(self) -> None:
        """Write the cache to its path (no-op without one)."""
        if self.path is None:
            return
        data = {
            "format": "kleptolab-state-cache",
            "version": 1,
            "states": {n.hex(): [f"{s:064x}" for s in v] for n, v in self._states.items()},
        }
        self.path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
