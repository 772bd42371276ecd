"""`python -m vigia_retrain`: the retraining job, as the `vigia-retrain` console script runs it."""

from __future__ import annotations

import sys

from vigia_retrain.cli import main

if __name__ == "__main__":
    sys.exit(main())
