"""IKEv2 (RFC 7296) for the lab: codecs, key derivation, SK protection, NAT-T and the engines.

- :mod:`.payloads` / :mod:`.proposals` / :mod:`.traffic`: payload codecs,
  :func:`parse_message` / :func:`build_message`;
- :mod:`.keys`: SKEYSEED, prf+, SK_*, child KEYMAT, AUTH (pure functions);
- :mod:`.sk`: Encrypted payload (CBC, CTR, GCM, CCM) with ICD checks;
- :mod:`.engine`: :class:`Ikev2Initiator` / :class:`Ikev2Responder`;
- :mod:`.natt`, :mod:`.cookies`, :mod:`.uat` (Wireshark key tables).
"""

from kleptolab.ike.v2.engine import Ikev2Initiator, Ikev2Responder
from kleptolab.ike.v2.payloads import Ikev2Message, build_message, parse_message
from kleptolab.ike.v2.session import Ikev2State, Ikev2StateError

__all__ = [
    "Ikev2Initiator",
    "Ikev2Message",
    "Ikev2Responder",
    "Ikev2State",
    "Ikev2StateError",
    "build_message",
    "parse_message",
]
