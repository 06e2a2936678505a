"""kleptolab.defend."""
