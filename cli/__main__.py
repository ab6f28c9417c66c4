"""``python -m cli``: the same as the ``comply`` script."""

import sys

from cli.main import main

sys.exit(main())
