"""`python -m acme_appliance` entry point."""

import sys

from acme_appliance.cli import main

sys.exit(main())
