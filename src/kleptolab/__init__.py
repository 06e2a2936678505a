"""kleptolab: a reproduction of the 2015 Juniper ScreenOS Dual EC incident."""

__version__ = "0.1.0"
