"""kleptolab.esp."""
