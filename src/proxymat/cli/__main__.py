"""``python -m proxymat.cli``: the ``proxymat`` command."""

import sys

from .main import main

sys.exit(main())
