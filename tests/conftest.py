"""The project's own tests: pytester drives the plugin as a user would."""

from pathlib import Path

import pytest

from dbkata.assemble import PYTEST_CONFIG

pytest_plugins = ["pytester"]


def demo_exercise(pytester: pytest.Pytester, files: dict[str, str]) -> Path:
    """An assembled-style tree in pytester's folder: exercises/level2/ex04_demo holding ``files``."""
    pytester.makepyprojecttoml(PYTEST_CONFIG)
    folder = pytester.mkpydir("exercises").joinpath("level2")
    folder.mkdir()
    (folder / "__init__.py").touch()
    exercise = folder / "ex04_demo"
    exercise.mkdir()
    (exercise / "__init__.py").touch()
    for name, text in files.items():
        (exercise / name).write_text(text)
    return exercise


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
