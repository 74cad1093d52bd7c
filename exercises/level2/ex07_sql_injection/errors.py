"""Domain errors: the repository raises them, the routes turn them into HTTP answers (given)."""


class UnknownSortKey(ValueError):
    """The caller asked to sort by something that is not one of the allowed keys."""
