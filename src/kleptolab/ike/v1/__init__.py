"""IKEv1 / ISAKMP (RFC 2407, 2408, 2409, 3947): codecs, key derivation, IV chaining and engines.

Public entry points: :class:`~kleptolab.ike.v1.engine.Ikev1Initiator`,
:class:`~kleptolab.ike.v1.engine.Ikev1Responder`, the key functions in
:mod:`kleptolab.ike.v1.keys` and :class:`~kleptolab.ike.v1.crypto.Ikev1Cipher`
(which a passive observer uses to decrypt captured messages).
"""
