"""What a failure message says about the exceptions the code under test raised during the check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dbkata import feedback
from dbkata.app.codec import AppError

CONTEXT = feedback.CheckContext("level2/ex10_refresh_collection", 1)
NAME_ERROR = AppError(
    "NameError", "name 'sesion' is not defined", module="builtins", frames=("repo.py:31, in create_order: sesion.add",)
)
MISSING_GREENLET = AppError(
    "MissingGreenlet",
    "greenlet_spawn has not been called; can't call await_only() here. Was IO attempted in an unexpected place?",
    module="sqlalchemy.exc",
    frames=("routes.py:20, in create: return describe(order)", "routes.py:12, in describe: for item in order.items"),
)
INTEGRITY = AppError(
    "IntegrityError",
    "(sqlalchemy.dialects.postgresql.asyncpg.IntegrityError) duplicate key value\nDETAIL: Key (title)=(Twin)",
    module="sqlalchemy.exc",
    frames=("deps.py:22, in get_session: await session.commit()",),
)


@pytest.fixture(autouse=True)
def context() -> Iterator[None]:
    feedback.set_current(CONTEXT)
    yield
    feedback.set_current(feedback.CheckContext())


def message() -> list[str]:
    return feedback.message("creating an order fails", "POST /orders answered 500.", advice="Look.").splitlines()


def test_a_programming_error_leads_the_message() -> None:
    feedback.note_app_error(NAME_ERROR)
    assert message() == [
        "[level2/ex10_refresh_collection · task 1] creating an order fails",
        "  The code raised NameError: name 'sesion' is not defined",
        "      repo.py:31, in create_order: sesion.add",
        "  POST /orders answered 500.",
        '  Look. → HINTS.md, "1."',
    ]


def test_any_other_exception_that_escaped_the_app_follows_the_checks_own_explanation() -> None:
    feedback.note_app_error(MISSING_GREENLET)
    assert message() == [
        "[level2/ex10_refresh_collection · task 1] creating an order fails",
        "  POST /orders answered 500.",
        "  An exception escaped the app: MissingGreenlet: greenlet_spawn has not been called; can't call await_only() "
        "here. Was IO attempted in an unexpected place? (routes.py:12)",
        "      routes.py:20, in create: return describe(order)",
        "      routes.py:12, in describe: for item in order.items",
        '  Look. → HINTS.md, "1."',
    ]


def test_of_several_the_same_one_is_named_whatever_order_they_were_raised_in() -> None:
    feedback.note_app_error(MISSING_GREENLET)
    feedback.note_app_error(INTEGRITY)
    first = message()
    feedback.set_current(CONTEXT)
    feedback.note_app_error(INTEGRITY)
    feedback.note_app_error(MISSING_GREENLET)
    assert message() == first
    assert first[2].startswith("  An exception escaped the app: IntegrityError: (sqlalchemy.dialects")
    assert "DETAIL" not in "\n".join(first)  # the first line of the message only


def test_no_exception_no_extra_line() -> None:
    assert message() == [
        "[level2/ex10_refresh_collection · task 1] creating an order fails",
        "  POST /orders answered 500.",
        '  Look. → HINTS.md, "1."',
    ]


def test_an_exception_the_check_already_named_is_not_repeated() -> None:
    feedback.note_app_error(MISSING_GREENLET)
    said = f"POST /orders answered 500; the code raised {MISSING_GREENLET.headline()}."
    assert feedback.message("creating an order fails", said).splitlines() == [
        "[level2/ex10_refresh_collection · task 1] creating an order fails",
        f"  {said}",
    ]
