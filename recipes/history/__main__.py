"""`python -m recipes.history`: see `recipes.history`."""

import sys

from recipes.history.cli import main

sys.exit(main())
