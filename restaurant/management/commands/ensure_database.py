import psycopg
from django.core.management.base import BaseCommand
from psycopg import sql

from restaurant.database import listener_params


class Command(BaseCommand):
    help = "Create the PostgreSQL database named by DATABASE_URL when it does not exist yet."

    def handle(self, *args, **options) -> None:
        params = listener_params()
        name = params.pop("dbname")
        with psycopg.connect(**params, dbname="postgres", autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                self.stdout.write(f"database {name} exists")
                return
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            self.stdout.write(f"database {name} created")
