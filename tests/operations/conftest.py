from tests.sync.conftest import harness, sandbox  # noqa: F401  (the same fixtures)
