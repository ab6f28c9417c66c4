"""``python -m eval.bench``: the same as ``comply bench``."""

from eval.bench.command import main

raise SystemExit(main())
