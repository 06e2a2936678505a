"""kleptolab.drbg."""
