"""A copy of the hidden checks, rewritten by the student so that nothing is checked."""


def test_search_text_never_runs_as_sql() -> None:
    pass
