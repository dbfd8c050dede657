"""docs/support-matrix.md names only tests that exist (the matrix cannot drift from the proof)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_every_test_named_in_the_support_matrix_exists():
    matrix = (REPO / 'docs' / 'support-matrix.md').read_text()
    named = set(re.findall(r'`(test_\w+)`', matrix))
    # the product's tests and the lab's checks against a running lab (lab/tests)
    files = subprocess.run(['git', 'ls-files', 'tests', 'lab/tests'], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split()
    sources = '\n'.join((REPO / f).read_text() for f in files
                        if Path(f).name.startswith('test_') and f.endswith('.py'))
    defined = set(re.findall(r'^def (test_\w+)', sources, re.M))
    assert len(named) > 30
    assert named - defined == set()
