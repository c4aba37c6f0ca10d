"""`python -m ganforge`: the same command line as `ganforge`."""

from .cli import main

raise SystemExit(main())
