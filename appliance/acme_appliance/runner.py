"""`python -m acme_appliance.runner`: the entry point of appliance/run and of the container
image (the supervisor's command line names it, which is how `stop` recognises the process).
The command line itself is cli.py; starting and stopping is launcher.py, the supervisor
supervisor.py, process helpers procs.py."""

from __future__ import annotations

import sys

from acme_appliance.cli import main

if __name__ == "__main__":
    sys.exit(main())
