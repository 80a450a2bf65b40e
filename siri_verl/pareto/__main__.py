"""``python -m siri_verl.pareto --experiment NAME [...]``: ``siri_verl/tracking/pareto.py:main``."""

import sys

from siri_verl.tracking.pareto import main

sys.exit(main())
