"""Connections of our own to the database Django uses, outside its pool: the LISTEN connections of
the outbox relay and of each display's bridge, and `ensure_database`'s. (restaurant/db/ is the
database backend Django itself connects with.)"""

from django.db import connection


def listener_params() -> dict:
    """psycopg.connect() arguments for a connection of our own, from Django's DATABASES."""
    db = connection.settings_dict
    params = {
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"],
        "host": db["HOST"],
        "port": db["PORT"],
        "connect_timeout": db["OPTIONS"].get("connect_timeout", 2),
    }
    return {key: value for key, value in params.items() if value not in ("", None)}
