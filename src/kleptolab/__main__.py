"""Allow ``python -m kleptolab``."""

from kleptolab.cli import main

if __name__ == "__main__":  # not when a Dask/multiprocessing child re-imports this module
    main()
