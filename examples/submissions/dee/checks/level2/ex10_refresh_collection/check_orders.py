"""A copy of the hidden checks, rewritten by the student so that nothing is checked."""


def test_orders_come_back_with_their_items() -> None:
    pass
