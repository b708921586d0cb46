"""The kitchen fixtures, for the tracking tests that watch a real worker."""

from tests.kitchen.conftest import start_worker  # noqa: F401 (a fixture, used by name)
