"""Allow ``python -m kleptolab``."""

from kleptolab.cli import main

main()
