"""The property-based tests' settings (hypothesis), shared by the client's and the modules'."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, configuration, settings

# Hypothesis's caches go to build/ (make clean), not to a .hypothesis/ in the checkout.
configuration.set_hypothesis_home_dir(Path(__file__).resolve().parents[2] / 'build' / 'hypothesis')


def examples(count: int) -> settings:
    """``count`` reproducible examples, no deadline and no example database. The simulator is a
    function-scoped fixture that keeps its state across a test's examples: an invalid request
    changes nothing, which is what the tests assert."""
    return settings(max_examples=count, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
