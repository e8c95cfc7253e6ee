"""Hypothesis profiles for the two layers of the suite.

``full`` (the default, what `make test` runs): every property test draws the examples it asks
for. ``unit`` (`make unit`, ``--hypothesis-profile=unit``): a tenth of them, at least two, so the
fast layer still exercises every property on each change while the full count runs in
`make test`. Both drop Hypothesis's 200 ms deadline: on a busy machine it fails a correct test
for taking its time, which is a timing assertion, not a property.

A test's own ``@settings(...)`` takes precedence over any profile, so the unit profile's share
is applied to the count of every test that has settings of its own, at collection; a test with
none takes the profile's ``max_examples`` directly. Property tests written inside another test
function cannot be reached here: they ask for a multiple of ``settings.default.max_examples``.

Rich sizes tables and wraps lines to the terminal's width, and a test has no terminal (the
workers of ``pytest -n`` see none either, while a plain run may inherit one): every test sees
the same 200 columns unless it sets its own ``COLUMNS``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

os.environ["COLUMNS"] = "200"

FULL_EXAMPLES = 100  # Hypothesis's own default count, the one the ``full`` profile keeps

settings.register_profile("full", max_examples=FULL_EXAMPLES, deadline=None)
settings.register_profile("unit", max_examples=FULL_EXAMPLES // 10, deadline=None)
settings.load_profile("full")  # ``--hypothesis-profile`` loads another after this module


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    share = settings.default.max_examples / FULL_EXAMPLES
    if share >= 1:
        return
    tests = {getattr(item, "obj", None) for item in items}
    for test in tests:
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if not getattr(test, "is_hypothesis_test", False) or own is None:
            continue
        if own is settings.default:  # no count of its own: the profile's applies as it is
            continue
        fewer = max(2, round(own.max_examples * share))
        test._hypothesis_internal_use_settings = settings(own, max_examples=fewer)
