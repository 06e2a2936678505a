"""kleptolab.device."""
