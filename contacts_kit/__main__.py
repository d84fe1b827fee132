"""`python -m contacts_kit` runs the `contacts-kit` command."""

import sys

from contacts_kit.cli import main

sys.exit(main())
