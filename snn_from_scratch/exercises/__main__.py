"""``python -m snn_from_scratch.exercises ...`` (the same as ``python -m snn_from_scratch exercises ...``)."""
import sys

from . import main

sys.exit(main())
