"""kleptolab.esp: ESP tunnel mode (RFC 4303), UDP encapsulation (RFC 3948), Wireshark esp_sa."""

from kleptolab.esp.errors import (
    BadIcv,
    BadPadding,
    EspError,
    ReplayedPacket,
    SequenceExhausted,
    TruncatedPacket,
    UnknownSpi,
)
from kleptolab.esp.replay import ReplayWindow
from kleptolab.esp.sa import EspPayload, EspSa, InboundSad, sa_pair_from_child

__all__ = [
    "BadIcv",
    "BadPadding",
    "EspError",
    "EspPayload",
    "EspSa",
    "InboundSad",
    "ReplayWindow",
    "ReplayedPacket",
    "SequenceExhausted",
    "TruncatedPacket",
    "UnknownSpi",
    "sa_pair_from_child",
]
