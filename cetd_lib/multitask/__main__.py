"""`python -m cetd_lib.multitask build ...` is `python -m cetd_lib.multitask.data build ...`."""

import sys

from cetd_lib.multitask.data import main

sys.exit(main())
