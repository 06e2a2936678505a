"""Forward-secure sealing of the event log: keys that only evolve forward, MACs, epoch seals.

The scheme follows the secure-audit-log line of work: Schneier and Kelsey,
"Secure Audit Logs to Support Computer Forensics" (ACM TISSEC 1999);
Bellare and Yee, "Forward-Security in Private-Key Cryptography" (CT-RSA
2003); Ma and Tsudik's FssAgg (IEEE S&P 2008); and systemd-journald's
Forward Secure Sealing (Marson and Poettering, ESORICS 2013:
``journalctl --setup-keys`` shows a verification key once, the device keeps
only an evolving sealing key).

* :func:`setup_keys` draws a 32-byte seed.  The **verification key**
  (:class:`VerifyKey`, text ``<seed hex>/<interval s>/<device id>``) is shown
  once and kept off the device; the device gets a :class:`Sealer` holding
  ``k_0 = HMAC-SHA256(seed, "kleptolab-fss-v1|" + device id)``.
* Epoch keys evolve one way, ``k_{e+1} = HMAC-SHA256(k_e, "evolve")``, and the
  old key is overwritten: whoever reads the device at epoch ``E`` can compute
  ``k_E, k_{E+1}, …`` but no earlier key.
* Every entry carries ``mac=<epoch>:<seq>:<hex>``, the first 128 bits of
  ``HMAC-SHA256(m_e, "<epoch>|<seq>|<get event text>")`` with
  ``m_e = HMAC-SHA256(k_e, "mac")``; ``seq`` counts every entry ever written.
* Each epoch closes with a **seal**, itself a log line (module ``fss``, lab
  message ID 00000), covering the epoch's entry count, the next sequence
  number, the last entry's MAC and the ring-eviction watermark, tagged with
  the full HMAC under ``m_e``.  Epochs close on a timer (every ``interval``
  seconds, seals written even when nothing is logged) and on demand.

Primitives: HMAC-SHA256 from ``cryptography`` only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes, hmac

__all__ = [
    "NO_MAC",
    "SEAL_MODULE",
    "SEAL_MSG_ID",
    "SealFields",
    "Sealer",
    "VerifyKey",
    "entry_mac",
    "parse_mac_field",
    "parse_seal_message",
    "seal_message",
    "seal_tag",
    "setup_keys",
]

SEAL_MODULE = "fss"
"""The module name of seal lines (lab-defined)."""
SEAL_MSG_ID = 0
"""The message ID of seal lines (lab-defined; ScreenOS has none)."""
NO_MAC = "-"
"""``last=`` of a seal whose epoch holds no entry."""
MAC_HEX = 32
"""Hex digits of an entry MAC (128 bits)."""
MAX_INTERVAL = 7 * 24 * 3600


def _hmac(key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def initial_key(seed: bytes, device_id: str) -> bytes:
    """``k_0``: bound to the device, so a key for one device verifies no other."""
    return _hmac(seed, b"kleptolab-fss-v1|" + device_id.encode("utf-8"))


def evolve(key: bytes) -> bytes:
    """``k_{e+1}`` from ``k_e`` (one way)."""
    return _hmac(key, b"evolve")


def mac_key(key: bytes) -> bytes:
    """The epoch's MAC key ``m_e``."""
    return _hmac(key, b"mac")


def entry_mac(mkey: bytes, epoch: int, seq: int, text: str) -> str:
    """The entry MAC (hex) of the ``get event`` text ``text``."""
    return _hmac(mkey, f"{epoch}|{seq}|{text}".encode()).hex()[:MAC_HEX]


@dataclass(frozen=True)
class SealFields:
    """What a seal covers: epoch, time (``get event`` form), entries, next seq, last MAC, eviction."""

    epoch: int
    when: str
    entries: int
    next_seq: int
    last: str
    evicted: int
    tag: str = ""

    def signed_text(self) -> str:
        return (
            f"seal|{self.epoch}|{self.when}|{self.entries}|{self.next_seq}|{self.last}|"
            f"{self.evicted}"
        )


def seal_tag(mkey: bytes, fields: SealFields) -> str:
    """The seal's tag: full HMAC-SHA256 (hex) under the epoch's MAC key."""
    return _hmac(mkey, fields.signed_text().encode()).hex()


def seal_message(fields: SealFields) -> str:
    """The seal line's message text."""
    return (
        f"seal epoch={fields.epoch} entries={fields.entries} next={fields.next_seq} "
        f"last={fields.last} evicted={fields.evicted} tag={fields.tag}"
    )


_SEAL_RE = re.compile(
    r"seal epoch=(\d{1,12}) entries=(\d{1,12}) next=(\d{1,15}) last=([0-9a-f]{32}|-) "
    r"evicted=(\d{1,15}) tag=([0-9a-f]{64})"
)


def parse_seal_message(message: str, when: str) -> SealFields | None:
    """The seal in a seal line's message, or None (anchored, no backtracking)."""
    m = _SEAL_RE.fullmatch(message)
    if m is None:
        return None
    return SealFields(int(m[1]), when, int(m[2]), int(m[3]), m[4], int(m[5]), m[6])


_MAC_RE = re.compile(r"(\d{1,12}):(\d{1,15}):([0-9a-f]{32})")


def parse_mac_field(value: str) -> tuple[int, int, str] | None:
    """``(epoch, seq, mac)`` from a ``mac=`` value, or None."""
    m = _MAC_RE.fullmatch(value)
    return None if m is None else (int(m[1]), int(m[2]), m[3])


@dataclass(frozen=True)
class VerifyKey:
    """The verification key: the seed, the seal interval and the device it belongs to."""

    seed: bytes
    interval: int
    device_id: str

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise ValueError(f"verification key seed must be 32 bytes, got {len(self.seed)}")
        if not 1 <= self.interval <= MAX_INTERVAL:
            raise ValueError(
                f"seal interval must be 1..{MAX_INTERVAL} seconds, got {self.interval}"
            )
        if not self.device_id or "/" in self.device_id or not self.device_id.isprintable():
            raise ValueError(
                f"device id {self.device_id!r} must be printable, non-empty, without '/'"
            )

    @property
    def text(self) -> str:
        """``<seed hex>/<interval>/<device id>`` (what ``kleptolab logs --verify-key`` takes)."""
        return f"{self.seed.hex()}/{self.interval}/{self.device_id}"

    @classmethod
    def parse(cls, text: str) -> VerifyKey:
        """Parse :attr:`text`; ``ValueError`` naming what is wrong."""
        parts = text.strip().split("/")
        if len(parts) != 3:
            raise ValueError("verification key must read <64 hex>/<interval seconds>/<device id>")
        seed_hex, interval, device = parts
        try:
            seed = bytes.fromhex(seed_hex)
        except ValueError:
            raise ValueError("verification key seed is not hex") from None
        if not interval.isdigit():
            raise ValueError(f"verification key interval {interval!r} is not a number of seconds")
        return cls(seed, int(interval), device)

    def k0(self) -> bytes:
        return initial_key(self.seed, self.device_id)


class Sealer:
    """The device's half: the current epoch key only, MACs entries, closes epochs.

    ``clock`` gives Unix time; epochs close at ``start + k * interval`` (timer)
    or when :meth:`seal` is called (on demand, restarting the timer).
    """

    def __init__(self, key: bytes, *, interval: int, start: float, epoch: int = 0) -> None:
        if not 1 <= interval <= MAX_INTERVAL:
            raise ValueError(f"seal interval must be 1..{MAX_INTERVAL} seconds, got {interval}")
        self._key = bytearray(key)
        self._mkey = mac_key(bytes(self._key))
        self.interval = interval
        self.epoch = epoch
        self.deadline = float(int(start)) + interval
        self.count = 0
        self.last = NO_MAC

    def mac(self, seq: int, text: str) -> str:
        """``mac=`` value of entry ``seq`` in the current epoch."""
        value = entry_mac(self._mkey, self.epoch, seq, text)
        self.count += 1
        self.last = value
        return f"{self.epoch}:{seq}:{value}"

    def close(self, when: datetime, next_seq: int, evicted: int) -> SealFields:
        """Seal the current epoch at ``when``, evolve the key, erase the old one."""
        fields = SealFields(
            self.epoch, f"{when:%Y-%m-%d %H:%M:%S}", self.count, next_seq, self.last, evicted
        )
        fields = SealFields(**{**fields.__dict__, "tag": seal_tag(self._mkey, fields)})
        new = evolve(bytes(self._key))
        for i in range(len(self._key)):  # best effort: overwrite the old key in place
            self._key[i] = 0
        self._key[:] = new
        self._mkey = mac_key(new)
        self.epoch += 1
        self.count = 0
        self.last = NO_MAC
        return fields

    def current_key(self) -> bytes:
        """What an intruder who takes the device now can read."""
        return bytes(self._key)


def setup_keys(
    random: Callable[[int], bytes], *, device_id: str, interval: int, start: float
) -> tuple[Sealer, VerifyKey]:
    """Set-up, as ``journalctl --setup-keys``: the device's sealer and the verification key."""
    verify = VerifyKey(random(32), interval, device_id)
    return Sealer(verify.k0(), interval=interval, start=start), verify
