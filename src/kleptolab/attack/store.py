"""Recovered Dual EC states by gateway, kept in an embedded SQLite database.

Every state the decryptor recovers is stored with the gateway that drew it
(the responder's ``address:port`` as the capture shows it), the nonce it was
recovered from, and its position in that gateway's draw sequence: an
*epoch* is one chain of states linked by walking the PRNG (it starts where a
state was swept, position 0), and ``position`` counts the ``prng_generate()``
calls since the epoch's first state.  A later nonce of a known gateway is then
found by walking forward from the gateway's latest states
(:class:`~kleptolab.attack.forward.ForwardWindow`) before any 2^16 sweep.

The database uses write-ahead logging, so several runs can read and write
it at the same time (writers wait for each other up to ``timeout`` seconds);
each :meth:`StateStore.record` is one transaction.  Only public values are
stored (nonces, states, positions): never the trapdoor.  ``StateStore(None)``
is an in-memory database for one run.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FORMAT", "KnownState", "StateRecord", "StateStore"]

FORMAT = "kleptolab-state-store"
VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS epochs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, gateway TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS states (
    nonce BLOB NOT NULL, state BLOB NOT NULL, gateway TEXT, epoch INTEGER, position INTEGER,
    how TEXT NOT NULL, capture TEXT, seen REAL NOT NULL, PRIMARY KEY (nonce, state)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS states_by_gateway ON states (gateway, epoch, position);
"""


@dataclass(frozen=True)
class KnownState:
    """A stored state: drawn by ``gateway`` right after output ``nonce``, at ``position`` of ``epoch``."""

    nonce: bytes
    state: int
    epoch: int
    position: int


@dataclass(frozen=True)
class StateRecord:
    """One state to store.  ``epoch`` < 0 names an epoch new in this run (mapped on insert)."""

    nonce: bytes
    state: int
    gateway: str | None = None
    epoch: int | None = None
    position: int | None = None
    how: str = "sweep"
    capture: str | None = None


class StateStore:
    """Candidate states per nonce and per gateway (see the module docstring)."""

    def __init__(self, path: Path | None = None, *, timeout: float = 30.0) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                ":memory:" if path is None else str(path),
                timeout=timeout,
                check_same_thread=False,
                isolation_level=None,
            )
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if row is None:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('format', ?), ('version', ?)",
                    (FORMAT, str(VERSION)),
                )
                self._db.execute("COMMIT")
            elif row[0] != FORMAT:
                raise ValueError(f"state store {path} is not a {FORMAT} database")
        except sqlite3.DatabaseError as exc:
            raise ValueError(
                f"state store {path} is unreadable: {exc} (it must be a SQLite {FORMAT})"
            ) from None

    # --- per nonce (the StateCache protocol) ----------------------------------------------

    def get(self, nonce: bytes) -> list[int] | None:
        """Every stored candidate state recovered from ``nonce`` (None: never seen)."""
        with self._lock:
            rows = self._db.execute("SELECT state FROM states WHERE nonce = ?", (nonce,)).fetchall()
        return sorted(int.from_bytes(r[0], "big") for r in rows) if rows else None

    def put(self, nonce: bytes, states: Iterable[int]) -> None:
        """Store candidates of ``nonce`` with no gateway (kept from older callers)."""
        self.record([StateRecord(nonce, s) for s in set(states)])

    def __contains__(self, nonce: object) -> bool:
        if not isinstance(nonce, bytes):
            return False
        with self._lock:
            return (
                self._db.execute(
                    "SELECT 1 FROM states WHERE nonce = ? LIMIT 1", (nonce,)
                ).fetchone()
                is not None
            )

    def __len__(self) -> int:
        """The number of distinct nonces stored."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(DISTINCT nonce) FROM states").fetchone()[0])

    def items(self) -> list[tuple[bytes, list[int]]]:
        """Every (nonce, candidate states) pair."""
        found: dict[bytes, list[int]] = {}
        with self._lock:
            for nonce, state in self._db.execute(
                "SELECT nonce, state FROM states ORDER BY nonce, state"
            ):
                found.setdefault(bytes(nonce), []).append(int.from_bytes(state, "big"))
        return list(found.items())

    def save(self) -> None:
        """Nothing to do: every :meth:`record` is committed at once (kept for older callers)."""

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    # --- per gateway ------------------------------------------------------------------------

    def positioned(self, nonce: bytes) -> list[KnownState]:
        """The stored states of ``nonce`` that have a gateway position."""
        with self._lock:
            rows = self._db.execute(
                "SELECT state, epoch, position FROM states WHERE nonce = ? AND epoch IS NOT NULL",
                (nonce,),
            ).fetchall()
        return [KnownState(nonce, int.from_bytes(s, "big"), e, p) for s, e, p in rows]

    def latest(self, gateway: str, epochs: int = 4) -> list[KnownState]:
        """The furthest-walked states of the ``epochs`` most recently extended epochs of ``gateway``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT s.nonce, s.state, s.epoch, s.position FROM states s JOIN ("
                "  SELECT epoch, MAX(position) AS top, MAX(seen) AS last FROM states"
                "  WHERE gateway = ? AND epoch IS NOT NULL GROUP BY epoch ORDER BY last DESC LIMIT ?"
                ") t ON s.epoch = t.epoch AND s.position = t.top ORDER BY t.last DESC",
                (gateway, epochs),
            ).fetchall()
        return [KnownState(bytes(n), int.from_bytes(s, "big"), e, p) for n, s, e, p in rows]

    def gateways(self) -> dict[str, int]:
        """Known gateways and how many states each has."""
        with self._lock:
            rows = self._db.execute(
                "SELECT gateway, COUNT(*) FROM states WHERE gateway IS NOT NULL GROUP BY gateway"
            ).fetchall()
        return {g: n for g, n in rows}

    def record(self, records: Iterable[StateRecord]) -> dict[int, int]:
        """Store ``records`` in one transaction; returns the new epoch ids of the negative ones.

        A state already stored keeps its first gateway position unless it had none.
        """
        new_epochs: dict[int, int] = {}
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for r in records:
                    epoch = r.epoch
                    if epoch is not None and epoch < 0 and r.gateway is not None:
                        if epoch not in new_epochs:
                            cur = self._db.execute(
                                "INSERT INTO epochs (gateway, created) VALUES (?, ?)",
                                (r.gateway, now),
                            )
                            new_epochs[epoch] = int(cur.lastrowid or 0)
                        epoch = new_epochs[epoch]
                    elif epoch is not None and epoch < 0:
                        epoch = None
                    self._db.execute(
                        "INSERT INTO states VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (nonce, state) DO UPDATE SET "
                        "gateway = COALESCE(states.gateway, excluded.gateway), "
                        "epoch = COALESCE(states.epoch, excluded.epoch), "
                        "position = COALESCE(states.position, excluded.position), "
                        "seen = excluded.seen",
                        (
                            r.nonce,
                            r.state.to_bytes(32, "big"),
                            r.gateway,
                            epoch,
                            r.position if epoch is not None else None,
                            r.how,
                            r.capture,
                            now,
                        ),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return new_epochs
