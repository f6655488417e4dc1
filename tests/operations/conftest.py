from tests.sync.conftest import sandbox  # noqa: F401  (the same fixture; harness is global)
