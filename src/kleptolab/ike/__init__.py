"""kleptolab.ike."""
