"""The ``proxymat`` command line: one module per command; the library never imports this package.

``proxymat = "proxymat.cli:main"`` is the console entry point and
``python -m proxymat.cli`` runs the same (torchrun uses it).
"""

from .common import CliError
from .main import build_parser, main, run_command

__all__ = ["CliError", "build_parser", "main", "run_command"]
