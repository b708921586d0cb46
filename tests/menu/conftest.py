import pytest

from menu import selectors


@pytest.fixture(autouse=True)
def fresh_menu_document(monkeypatch):
    """The process keeps the last GET /menu document by menu version; a test's rolled-back transaction
    hands the next test the same version numbers for another menu, so each test starts without it."""
    monkeypatch.setattr(selectors, "_cached", None)
