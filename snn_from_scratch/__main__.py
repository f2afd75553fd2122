"""``python -m snn_from_scratch COMMAND ...`` — see :mod:`snn_from_scratch.cli`."""
import sys

from .cli import main

sys.exit(main())
