"""Visible tests (edited by the student so that they always pass)."""


def test_orders() -> None:
    assert True
