import json
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from menu.models import MenuItem
from menu.services import MenuInvalid, menu_load, parse_menu


class Command(BaseCommand):
    help = (
        "Load a menu file (stations, categories, items, modifier groups and options) into the catalog. "
        "Idempotent by code and sku: creates and updates; deletes what the file omits only with --prune. "
        "A bad file is refused whole, naming every bad field; nothing is written then."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--prune", action="store_true", help="delete what the file omits")
        parser.add_argument("--if-empty", action="store_true", help="load only into an empty catalog (make run)")

    def handle(self, *args, file: Path, prune: bool, if_empty: bool, **options) -> None:
        if if_empty and MenuItem.objects.exists():
            self.stdout.write(f"the menu has items already: {file} not loaded")
            return
        try:
            data = json.loads(file.read_text(encoding="utf-8"), parse_float=Decimal)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        except ValueError as exc:
            raise CommandError(f"{file} is not JSON: {exc}") from None
        except RecursionError:
            raise CommandError(f"{file} is not JSON: nested too deeply to be read") from None
        try:
            report = menu_load(parse_menu(data), prune=prune)
        except MenuInvalid as exc:
            lines = [f"  {path or '(file)'}: {'; '.join(messages)}" for path, messages in exc.errors.items()]
            raise CommandError(f"{file} refused, nothing written:\n" + "\n".join(lines)) from None
        for line in report.lines():
            self.stdout.write(line)
        self.stdout.write(f"loaded {file}")
