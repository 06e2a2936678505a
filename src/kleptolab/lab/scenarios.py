"""The demo's scenarios as data: firmware pair, VPN sessions, what the attacker knows.

``default``        6.3.0r20 → 6.3.0r21, IKEv1 Main Mode PSK and IKEv2 sessions, attacker knows the PSK.
``weak-psk``       as default, but the IKEv1 PSK is a dictionary word the attacker must crack.
``drained-queues`` CCS16 Figure 2 on the real gateway: one MODP2048 (IKEv2) and one MODP1024
                   (IKEv1) VPN, so boot fills nonces 1-8, then MODP2048 keys 9-10, then
                   MODP1024 keys 11-12.  Eight back-to-back MODP2048 connections use up the
                   boot nonces (the queues are FIFO, so timer refills only join the back);
                   the ninth connection, MODP1024, takes the boot-time key 11 and a nonce made
                   later: its key predates its nonce, and only an earlier connection's nonce
                   unlocks it (the multi-connection attack).
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
    """One client session (sessions run back to back, in order)."""

    vpn: VpnPlan


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
    stale_key_session: int | None = None
    """Index of the session whose DH key must predate its nonce (checked in the draw log)."""

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
            "CCS16 Figure 2: 8 MODP2048 connections use up the boot nonces; a MODP1024 connection then "
            "takes a boot-time key older than every queued nonce (the multi-connection attack)",
            "6.3.0r20", "6.3.0r21",
            (*(SessionPlan(IKEV2) for _ in range(8)), SessionPlan(IKEV1)),
            messages_per_session=1, stale_key_session=8,
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
