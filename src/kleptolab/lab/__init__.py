"""kleptolab.lab."""
