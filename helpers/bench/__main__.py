"""``python -m helpers.bench`` is ``lab-bench``."""

import sys

from helpers.bench import main

sys.exit(main())
