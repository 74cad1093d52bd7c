"""The project's own tests: pytester drives the plugin as a user would."""

import pytest

pytest_plugins = ["pytester"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run the long scenarios (marked slow); CI does")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a long scenario, run only with --slow (CI runs `pytest --slow -m slow`)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="a long scenario: run it with `pytest --slow` (CI does)")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)
