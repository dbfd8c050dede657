"""What the import contracts (.importlinter, checked by import-linter in `make lint`) cannot
say: the launcher's command line needs only the standard library, and routes never reach the
store through the application context either."""

from __future__ import annotations

import os
import subprocess
import sys

from appliance_helpers import APPLIANCE

PACKAGE = "acme_appliance"
SOURCES = APPLIANCE / PACKAGE


def test_the_launcher_command_line_needs_only_the_standard_library() -> None:
    """`appliance/run start|stop|status` runs on a bare python3; only `serve` needs the rest."""
    code = ("import sys; import acme_appliance.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'pydantic', "
            "'starlette', 'uvicorn', 'cryptography', 'pydantic_settings'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(APPLIANCE)}, check=True)
    assert result.stdout.strip() == "[]"


def test_routes_go_through_the_services_not_the_store() -> None:
    for path in sorted(SOURCES.glob("routes_*.py")):
        assert ".store." not in path.read_text(), path.name  # (the import: .importlinter)
