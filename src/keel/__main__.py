"""``python -m keel``: the same as the ``keel`` console script."""

import sys

from keel.cli import main

sys.exit(main())
