"""restaurant.db: the reused connection's health check asks the socket, and still sees a lost session."""

from django.db import connection, connections

from tests.support import wait_for


def last_statement_of(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def test_a_healthy_connection_is_usable_without_a_round_trip(transactional_db):
    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        other.connection.execute("SELECT 'before the check'")

        assert other.is_usable()

        # The server saw nothing since (Django's own check would have sent SELECT 1).
        assert last_statement_of(other.connection.info.backend_pid) == "SELECT 'before the check'"
    finally:
        other.close()


def test_a_session_the_server_ended_is_seen_as_unusable(transactional_db):
    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        pid = other.connection.info.backend_pid
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        wait_for(lambda: not other.is_usable(), message="the terminated session still looked usable")
    finally:
        other.close()
