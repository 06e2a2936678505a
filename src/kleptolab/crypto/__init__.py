"""kleptolab.crypto."""
