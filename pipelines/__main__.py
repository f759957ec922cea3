"""`python -m pipelines` is the same as `opslab`."""

import sys

from pipelines.cli import main

sys.exit(main())
