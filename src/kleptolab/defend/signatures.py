"""Snort/Suricata rules for the admin backdoor, in the style of Fox-IT's Dec 2015 rules.

Rules (lab SIDs 9001728-9001732 mirror Fox-IT's 21001728-21001731, published with JSA10713):

* 9001728: a NetScreen SSH banner (``SSH-2.0-NetScreen``) leaving the home net;
* 9001729: the Telnet console banner ``Remote Management Console\\r\\n`` (no alert,
  sets flowbit ``kleptolab.screenos``);
* 9001730: the master password sent to port 23 at offset 0 of a client PDU
  (sets ``kleptolab.screenos.password``);
* 9001731: a CLI prompt ``-> `` ending a server PDU after that (successful logon);
* 9001732 (optional): the historic 2013 password as an indicator.

:func:`match_session` is a small evaluator for exactly the keywords used here
(flow direction, content with offset/depth, isdataat:!1,relative, flowbits)
over a TCP session reassembled into PDUs (consecutive same-direction segments
merged), so the rules can be tested without Suricata.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kleptolab.defend.constants import HISTORIC_MASTER_PASSWORD
from kleptolab.device.profiles import LAB_MASTER_PASSWORD

__all__ = ["Segment", "match_session", "reassemble", "render_rules"]

_REFS = "reference:cve,2015-7755; reference:url,kb.juniper.net/JSA10713;"


def _hex(data: bytes) -> str:
    return "|" + data.hex(" ").upper() + "|"


def _password_rule(sid: int, password: str, what: str) -> str:
    raw = password.encode("ascii")
    return (
        f'alert tcp any any -> $HOME_NET 23 (msg:"KLEPTOLAB Backdoor ScreenOS telnet {what} '
        f'password attempt"; flow:established,to_server; flowbits:isset,kleptolab.screenos; '
        f"content:\"{_hex(raw)}\"; offset:0; depth:{len(raw)}; fast_pattern; "
        f"flowbits:set,kleptolab.screenos.password; classtype:attempted-admin; {_REFS} "
        f"sid:{sid}; rev:1;)"
    )


def render_rules(master_password: str = LAB_MASTER_PASSWORD, *, historic: bool = True) -> str:
    """The rules file text; ``ValueError`` for a password that is not printable ASCII."""
    if not master_password or not master_password.isascii() or not master_password.isprintable():
        raise ValueError("the master password must be non-empty printable ASCII")
    rules = [
        "# kleptolab: ScreenOS admin backdoor signatures (lab SIDs; Fox-IT style, Dec 2015)",
        'alert tcp $HOME_NET 22 -> $EXTERNAL_NET any (msg:"KLEPTOLAB Policy ScreenOS SSH '
        'reachable from outside"; flow:established,to_client; content:"SSH-2.0-NetScreen"; '
        f"offset:0; depth:17; classtype:policy-violation; priority:1; {_REFS} sid:9001728; rev:1;)",
        'alert tcp $HOME_NET 23 -> any any (msg:"KLEPTOLAB ScreenOS telnet console"; '
        'flow:established,to_client; content:"Remote Management Console|0D 0A|"; offset:0; '
        "depth:27; flowbits:set,kleptolab.screenos; flowbits:noalert; classtype:policy-violation; "
        f"{_REFS} sid:9001729; rev:1;)",
        _password_rule(9001730, master_password, "lab"),
        'alert tcp $HOME_NET 23 -> any any (msg:"KLEPTOLAB Backdoor ScreenOS successful logon"; '
        'flow:established,to_client; flowbits:isset,kleptolab.screenos.password; content:"-> "; '
        f"isdataat:!1,relative; classtype:successful-admin; {_REFS} sid:9001731; rev:1;)",
    ]
    if historic:
        rules.append("# indicator only: the historic 2013 password (never used by the lab)")
        rules.append(_password_rule(9001732, HISTORIC_MASTER_PASSWORD, "historic"))
    return "\n".join(rules) + "\n"


@dataclass(frozen=True)
class Segment:
    """A TCP payload: ``to_server`` is the direction, ``dport`` the server port."""

    to_server: bool
    payload: bytes


def reassemble(segments: Iterable[Segment]) -> list[Segment]:
    """Merge consecutive same-direction segments into PDUs (a direction change flushes)."""
    out: list[Segment] = []
    for s in segments:
        if out and out[-1].to_server == s.to_server:
            out[-1] = Segment(s.to_server, out[-1].payload + s.payload)
        elif s.payload:
            out.append(s)
    return out


def _content_bytes(value: str) -> bytes:
    text = value.strip().strip('"')
    out = bytearray()
    parts = text.split("|")
    for k, part in enumerate(parts):
        out += bytes.fromhex(part) if k % 2 else part.encode("latin-1")
    return bytes(out)


def _options(rule: object) -> list[tuple[str, str | None]]:
    return [(o.name, o.value) for o in rule.options]  # type: ignore[attr-defined]


def _modifiers(rest: list[tuple[str, str | None]]) -> dict[str, str | None]:
    """The modifiers that follow one ``content`` (up to the next ``content``)."""
    out: dict[str, str | None] = {}
    for name, value in rest:
        if name == "content":
            break
        out[name] = value
    return out


def _matches(opts: list[tuple[str, str | None]], pdu: Segment, bits: set[str]) -> bool:
    flow = next((v or "" for k, v in opts if k == "flow"), "")
    if "to_server" in flow and not pdu.to_server:
        return False
    if ("to_client" in flow or "from_server" in flow) and pdu.to_server:
        return False
    cursor = None
    pending: bytes | None = None
    for k, (name, value) in enumerate(opts):
        if name == "flowbits" and value and value.startswith("isset,") and value[6:] not in bits:
            return False
        if name == "content" and value is not None:
            pending = _content_bytes(value)
            mods = _modifiers(opts[k + 1 :])
            offset = int(mods.get("offset") or 0)
            depth = int(mods["depth"] or 0) if "depth" in mods else None
            end = len(pdu.payload) if depth is None else offset + depth
            pos = pdu.payload.find(pending, offset, end)
            if pos < 0:
                return False
            cursor = pos + len(pending)
        if name == "isdataat" and value == "!1,relative" and (
            cursor is None or cursor < len(pdu.payload)
        ):
            return False
    return True


def match_session(rules_text: str, segments: Iterable[Segment], *,
                  ssh: bool = False) -> list[int]:
    """SIDs that alert on one TCP session (Telnet on 23, or SSH on 22 with ``ssh=True``)."""
    from suricataparser import parse_rules

    port = "22" if ssh else "23"
    rules = [r for r in parse_rules(rules_text) if port in r.header.split()]
    bits: set[str] = set()
    alerts: list[int] = []
    for pdu in reassemble(segments):
        for rule in rules:
            opts = _options(rule)
            if not _matches(opts, pdu, bits):
                continue
            for name, value in opts:
                if name == "flowbits" and value and value.startswith("set,"):
                    bits.add(value[4:])
            if not any(n == "flowbits" and v == "noalert" for n, v in opts):
                alerts.append(int(rule.sid))
    return alerts
