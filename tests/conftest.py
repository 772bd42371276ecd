"""Shared pytest setup: fixtures for the real processes the tests need live in tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.cluster",
    "tests.fixtures.postgres",
]
