"""The property-based tests' settings (hypothesis), shared by the client's and the modules'."""

from __future__ import annotations

import re
import string
from pathlib import Path

from hypothesis import HealthCheck, configuration, settings
from hypothesis import strategies as st

# Hypothesis's caches go to build/ (make clean), not to a .hypothesis/ in the checkout.
configuration.set_hypothesis_home_dir(Path(__file__).resolve().parents[2] / 'build' / 'hypothesis')


def examples(count: int) -> settings:
    """``count`` reproducible examples, no deadline and no example database. The simulator is a
    function-scoped fixture that keeps its state across a test's examples: an invalid request
    changes nothing, which is what the tests assert."""
    return settings(max_examples=count, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


NAME_CHARS = string.ascii_letters + string.digits + '_.-'


def refused_names(pattern: str) -> st.SearchStrategy[str]:
    """Strings a name rule (``pattern``) refuses: any short text it does not match, and names
    of allowed characters that are too long (65 to 80)."""
    return st.one_of(
        st.text(max_size=70).filter(lambda s: re.fullmatch(pattern, s) is None),
        st.text(NAME_CHARS, min_size=65, max_size=80).filter(lambda s: s[0] not in '.-'))
