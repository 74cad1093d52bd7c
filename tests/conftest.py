"""The project's own tests: pytester drives the plugin as a user would."""

pytest_plugins = ["pytester"]
