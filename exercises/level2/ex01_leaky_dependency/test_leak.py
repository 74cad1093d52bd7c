"""Task 2: your tests. Each one must fail with the original get_session() and pass with your fix."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.task(2)


async def test_the_session_is_finished_when_the_route_raises() -> None:
    # TODO(task 2): replace this line with a real test (README task 2 lists what it must catch).
    pytest.fail("TODO(task 2): write the test that proves get_session() finishes failed requests")
