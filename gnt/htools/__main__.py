"""``python -m gnt.htools <tool> [options]``."""

import sys

from gnt.htools.main import main

sys.exit(main())
