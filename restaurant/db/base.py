"""Django's PostgreSQL backend with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django runs `SELECT 1` on a reused connection before each request's first
query: one more round trip per order. An idle connection has nothing to read, so this asks the
socket instead; when PostgreSQL closed the session (a restart, `pg_terminate_backend`), its farewell
or end-of-file is waiting there, and only then is the server asked the old way.
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable or super().is_usable()
