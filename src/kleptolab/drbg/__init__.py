"""kleptolab.drbg: Dual EC, X9.31, the ScreenOS PRNG, the lab trapdoor and state recovery.

Modules: ``curves`` and ``constants`` (data), ``dualec`` (SP 800-90A and
ScreenOS ``dualec32``), ``x931``, ``screenos`` (``ScreenOsPrng``, KAT),
``trapdoor`` (key generation and files), ``recover`` (2^16 state recovery),
``vectors`` (known-answer file loaders), ``commands`` (CLI).
"""
