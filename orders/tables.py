"""The tables' QR codes (issue 18): each active table's link to the ordering page, carrying its key,
drawn as SVG by segno; and the key's rotation, which makes every printed code of the table stop
working (a sheet that walked out, a guest who kept a photo of the code)."""

from urllib.parse import urlencode

import segno
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from orders.models import Table, new_table_key


def table_link(table: Table) -> str:
    """The ordering page for `table`, under the public base URL guests reach."""
    return f"{settings.PUBLIC_BASE_URL}/order/?{urlencode({'table': table.number, 'key': table.key})}"


def table_qr_svg(table: Table) -> str:
    """The table's link as an inline SVG QR code (error correction M: survives a stain or a fold)."""
    return segno.make(table_link(table), error="m").svg_inline(scale=5, border=2, title=f"Table {table.number}")


def tables_rotate_keys(tables: QuerySet[Table]) -> int:
    """A new key for each of `tables`: their printed codes stop working at once. The count rotated."""
    rotated = 0
    for table in tables:
        Table.objects.filter(pk=table.pk).update(key=new_table_key(), key_rotated_at=timezone.now())
        rotated += 1
    return rotated
