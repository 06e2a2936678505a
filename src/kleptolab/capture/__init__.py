"""Packet captures in and out: pcap/pcapng reading and writing, link layers,
IP reassembly, and telling IKE from ESP in the UDP datagrams found.

Shared by the attacker (``attack``), the defender (``defend``) and the lab
(``lab``); it depends only on the wire layers (``netpkt``, ``ike.wire``,
``esp.packet``).
"""

from kleptolab.capture.datagrams import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_RAW,
    Capture,
    Datagram,
    EspPacket,
    IkePacket,
    PcapWriter,
    Summary,
    classify,
    classify_all,
    flow_of,
    group_esp_sas,
    group_ike_sas,
    iter_capture,
    natt_flows,
    no_ike_hint,
    read_capture,
    summarize,
)

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_IPV4",
    "LINKTYPE_RAW",
    "Capture",
    "Datagram",
    "EspPacket",
    "IkePacket",
    "PcapWriter",
    "Summary",
    "classify",
    "classify_all",
    "flow_of",
    "group_esp_sas",
    "group_ike_sas",
    "iter_capture",
    "natt_flows",
    "no_ike_hint",
    "read_capture",
    "summarize",
]
