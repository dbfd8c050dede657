"""The lab library (lab/acmelab) on the path, as lab/bin's commands and lab/pytest.ini put it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / 'lab'))
