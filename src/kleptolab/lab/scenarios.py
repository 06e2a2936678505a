"""The demo's scenarios as data: firmware pair, VPN sessions, what the attacker knows.

``default``        6.3.0r20 → 6.3.0r21, IKEv1 Main Mode PSK and IKEv2 sessions, attacker knows the PSK.
``weak-psk``       as default, but the IKEv1 PSK is a dictionary word the attacker must crack.
``drained-queues`` a burst of simultaneous IKEv1 connections empties the pre-generation queues:
                   later DH values and nonces are made on demand, interleaved in the PRNG
                   stream; the decryptor's forward walk still finds each one.
``6.2.0r15``       replaced Q but no master password; upgrade to 6.2.0r19.
``6.1``            ScreenOS 6.1.0r7: X9.31 only, no master password; no upgrade needed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_PSK",
    "SCENARIOS",
    "WEAK_PSK",
    "WORDLIST",
    "Scenario",
    "SessionPlan",
    "VpnPlan",
    "scenario_by_name",
]

DEFAULT_PSK = b"kleptolab-lab-psk-2015"
"""The default IKEv1/IKEv2 pre-shared key (the attacker is handed it: a leaked config)."""

WORDLIST = (
    "123456", "password", "netscreen", "juniper", "juniper123", "admin", "letmein", "vpn",
    "vpnpassword", "changeme", "secret", "qwerty", "welcome1", "Password1", "ssg5", "screenos",
    "ipsec", "ipsecvpn", "presharedkey", "sunshine", "summer2015", "winter2015", "company123",
)
"""The small built-in wordlist of the ``weak-psk`` scenario (one of these is the PSK)."""

WEAK_PSK = b"summer2015"
assert WEAK_PSK.decode() in WORDLIST

PROTECTED_HOST = "10.1.0.10"
ECHO_PORT = 7


@dataclass(frozen=True)
class VpnPlan:
    """One VPN on the gateway and the matching client settings."""

    name: str
    version: int
    ike_proposal: str
    esp_proposal: str
    gateway_id: str
    client_id: str
    client_ts: str
    protected_ts: str = "10.1.0.0/24"

    def gateway_table(self, psk: bytes) -> dict[str, object]:
        """The gateway configuration's ``[[vpn]]`` table for this VPN."""
        return {
            "name": self.name,
            "version": self.version,
            "local_id": self.gateway_id,
            "remote_id": self.client_id,
            "psk": psk.decode(),
            "ike_proposals": [self.ike_proposal],
            "child_proposals": [self.esp_proposal],
            "local_ts": self.protected_ts,
            "remote_ts": self.client_ts,
        }


IKEV1 = VpnPlan("branch-ikev1", 1, "pre-g2-3des-sha", "nopfs-esp-3des-sha",
                "127.0.0.1", "127.0.0.2", "10.2.0.0/24")
IKEV2 = VpnPlan("branch-ikev2", 2, "pre-g14-aes128-sha", "nopfs-esp-aes128-sha",
                "127.0.0.1", "127.0.0.3", "10.3.0.0/24")


@dataclass(frozen=True)
class SessionPlan:
    """One client session: which VPN, and whether it starts together with the next ones."""

    vpn: VpnPlan
    burst: bool = False


@dataclass(frozen=True)
class Scenario:
    """Everything that differs between ``kleptolab demo --scenario`` variants."""

    name: str
    summary: str
    backdoored: str
    patched: str | None
    sessions: tuple[SessionPlan, ...]
    psk: bytes = DEFAULT_PSK
    attacker_knows_psk: bool = True
    messages_per_session: int = 2

    @property
    def vpns(self) -> tuple[VpnPlan, ...]:
        """The distinct VPNs the sessions use, in first-use order."""
        return tuple(dict.fromkeys(s.vpn for s in self.sessions))


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "default",
            "6.3.0r20 (replaced Q + master password) upgraded to 6.3.0r21; IKEv1 PSK and IKEv2",
            "6.3.0r20", "6.3.0r21",
            (SessionPlan(IKEV1), SessionPlan(IKEV2), SessionPlan(IKEV1)),
        ),
        Scenario(
            "weak-psk",
            "as default, but the attacker must crack the IKEv1 PSK from a small wordlist",
            "6.3.0r20", "6.3.0r21",
            (SessionPlan(IKEV1), SessionPlan(IKEV2)),
            psk=WEAK_PSK, attacker_knows_psk=False,
        ),
        Scenario(
            "drained-queues",
            "a burst of 4 simultaneous IKEv1 connections drains the queues: DH values and nonces made on demand",
            "6.3.0r20", "6.3.0r21",
            tuple(SessionPlan(IKEV1, burst=True) for _ in range(4)),
            messages_per_session=1,
        ),
        Scenario(
            "6.2.0r15",
            "6.2.0r15: replaced Q (VPN decryption) but no master password; upgrade to 6.2.0r19",
            "6.2.0r15", "6.2.0r19",
            (SessionPlan(IKEV1), SessionPlan(IKEV2)),
            messages_per_session=1,
        ),
        Scenario(
            "6.1",
            "6.1.0r7: X9.31 only, no Dual EC, no master password; nothing to upgrade",
            "6.1.0r7", None,
            (SessionPlan(IKEV1), SessionPlan(IKEV2)),
            messages_per_session=1,
        ),
    )
}


def scenario_by_name(name: str) -> Scenario:
    """The scenario called ``name``; ``ValueError`` listing the choices otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}") from None


def session_message(phase: str, index: int, vpn: VpnPlan, n: int) -> bytes:
    """A recognisable inner payload: who sent it, in which session, over which IKE version."""
    return (
        f"kleptolab demo [{phase}] session {index + 1} message {n + 1} via IKEv{vpn.version}: "
        f"wire 1,250,000 USD to account 4242-{index:02d}{n:02d}"
    ).encode()
