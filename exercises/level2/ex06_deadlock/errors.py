"""Domain errors: the service raises them, the routes turn them into HTTP answers (given)."""


class AccountNotFound(Exception):
    """No account has this id."""


class InsufficientFunds(Exception):
    """The source account's balance is smaller than the amount."""
