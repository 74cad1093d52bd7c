"""Task 2: your test. It must fail with the original dashboard and pass with your fix."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.task(2)


async def test_dashboard_no_n_plus_one() -> None:
    # TODO(task 2): replace this line with a real test (README task 2 says what it must check).
    pytest.fail("TODO(task 2): write the test that proves the dashboard runs at most 2 SQL statements")
