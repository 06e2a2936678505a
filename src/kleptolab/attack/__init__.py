"""kleptolab.attack."""
