"""The back-office personas and admin helpers, now in tests/factories.py; importable from here too."""

from tests.factories import FRONT_OF_HOUSE, KITCHEN, MANAGER, logged_in, make_order, messages_of, staff_user

__all__ = ["FRONT_OF_HOUSE", "KITCHEN", "MANAGER", "logged_in", "make_order", "messages_of", "staff_user"]
