"""`manage.py load_menu FILE [--prune] [--if-empty]`: the demo file loads, loading again changes nothing,
a changed row is updated, only --prune deletes, and a bad file is refused whole, naming the bad field's
path, with nothing written. Real PostgreSQL; the command through call_command."""

import json
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from menu.models import MenuItem, ModifierOption, Station
from tests.factories import catalog_state, load_test_menu, menu_copy
from tests.support import REPO

pytestmark = pytest.mark.django_db

DEMO = REPO / "menu" / "demo_menu.json"


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "menu.json"
    # Decimals as JSON numbers: the file's numbers are read as Decimal again.
    path.write_text(json.dumps(data, default=float))
    return path


def load_menu(path: Path, *flags: str) -> list[str]:
    out = StringIO()
    call_command("load_menu", str(path), *flags, stdout=out)
    return out.getvalue().splitlines()


def test_the_demo_menu_loads_and_says_what_it_made():
    lines = load_menu(DEMO)

    assert lines == [
        "stations: 4 created",
        "categories: 4 created",
        "items: 20 created",
        f"modifier groups: {lines[3].split()[2]} created",
        f"options: {lines[4].split()[1]} created",
        f"loaded {DEMO}",
    ]
    assert (Station.objects.count(), MenuItem.objects.count()) == (4, 20)
    assert ModifierOption.objects.count() == int(lines[4].split()[1]) > 0


def test_loading_the_same_file_again_changes_nothing():
    load_menu(DEMO)
    before = catalog_state()

    lines = load_menu(DEMO)

    assert [line.split(": ")[1].split(" ", 1)[1] for line in lines[:-1]] == ["unchanged"] * 5
    assert "items: 20 unchanged" in lines
    assert catalog_state() == before  # not even the version: no row was written


def test_a_changed_price_is_updated_and_the_rest_left_alone(tmp_path):
    data = menu_copy()
    load_test_menu(data)
    data["categories"][1]["items"][0]["price"] = "2.80"

    lines = load_menu(write(tmp_path, data))

    assert "items: 3 unchanged, 1 updated" in lines and "options: 12 unchanged" in lines
    assert MenuItem.objects.get(sku="cola").price == Decimal("2.80")


def test_what_the_file_omits_is_deleted_only_with_prune(tmp_path):
    load_test_menu()
    data = menu_copy()
    del data["categories"][1]  # drinks, with cola and tiramisu, the only items of the bar
    del data["categories"][0]["items"][0]["modifier_groups"][1]  # margherita's extras
    path = write(tmp_path, data)

    kept = load_menu(path)

    assert not any("pruned" in line for line in kept)
    assert MenuItem.objects.filter(sku="cola").exists() and ModifierOption.objects.filter(code="extra_cheese").exists()

    pruned = load_menu(path, "--prune")

    assert "items: 2 pruned, 2 unchanged" in pruned and "categories: 1 pruned, 1 unchanged" in pruned
    assert "modifier groups: 2 pruned, 3 unchanged" in pruned  # the extras, and cola's ice with cola
    assert sorted(MenuItem.objects.values_list("sku", flat=True)) == ["deltas", "margherita"]
    assert not ModifierOption.objects.filter(code="extra_cheese").exists()
    assert Station.objects.filter(code="bar").exists()  # still in the file


def test_if_empty_skips_a_catalog_that_has_items(tmp_path):
    load_test_menu()
    before = catalog_state()

    lines = load_menu(DEMO, "--if-empty")

    assert lines == [f"the menu has items already: {DEMO} not loaded"]
    assert catalog_state() == before
    assert load_menu(DEMO, "--if-empty") == lines


def test_if_empty_loads_an_empty_catalog():
    assert load_menu(DEMO, "--if-empty")[-1] == f"loaded {DEMO}"
    assert MenuItem.objects.count() == 20


# --- bad files: refused whole -------------------------------------------------------------------

MARGHERITA = "categories[0].items[0]"
BIANCA = "categories[0].items[1]"
COLA = "categories[1].items[0]"


def item(data: dict, category: int, index: int) -> dict:
    return data["categories"][category]["items"][index]


def group(data: dict, index: int) -> dict:
    return item(data, 0, 0)["modifier_groups"][index]


def set_price(value) -> Callable[[dict], None]:
    return lambda data: item(data, 0, 1).update(price=value)


BAD_FILES = [
    ("unknown field", lambda d: item(d, 0, 0).update(colour="red"), f"{MARGHERITA}.colour", "unknown field"),
    ("bad slug", lambda d: item(d, 0, 1).update(sku="Pizza Bianca"), f"{BIANCA}.sku", "must be a slug"),
    ("duplicate sku", lambda d: item(d, 1, 0).update(sku="margherita"), f"{COLA}.sku", "appears more than once"),
    (
        "option code in two groups",
        lambda d: group(d, 1)["options"][0].update(code="large"),
        f"{MARGHERITA}.modifier_groups[1].options[0].code",
        "option code of this item 'large' appears more than once",
    ),
    ("price 0.00", set_price(Decimal("0.00")), f"{BIANCA}.price", "between 0.01 and 999.99"),
    ("price 1000.00", set_price(Decimal("1000.00")), f"{BIANCA}.price", "between 0.01 and 999.99"),
    ("price 1.234", set_price(Decimal("1.234")), f"{BIANCA}.price", "at most 2 decimal places"),
    ("price '1.234'", set_price("1.234"), f"{BIANCA}.price", "at most 2 decimal places"),
    ("price 'abc'", set_price("abc"), f"{BIANCA}.price", "must be a number"),
    # Too large for a Decimal to be rounded to cents (InvalidOperation): outside the range all the same.
    ("price '1e30'", set_price("1e30"), f"{BIANCA}.price", "between 0.01 and 999.99"),
    ("price 1e30", set_price(Decimal("1e30")), f"{BIANCA}.price", "between 0.01 and 999.99"),
    ("price '-1e30'", set_price("-1e30"), f"{BIANCA}.price", "between 0.01 and 999.99"),
    (
        "a delta of 1e30",
        lambda d: group(d, 0)["options"][2].update(price_delta="1e30"),
        f"{MARGHERITA}.modifier_groups[0].options[2].price_delta",
        "must be between -12.49 and 999.99",
    ),
    (
        "a delta of -1e30 on an item without a price",
        lambda d: (item(d, 0, 0).update(price="abc"), group(d, 0)["options"][2].update(price_delta="-1e30")),
        f"{MARGHERITA}.modifier_groups[0].options[2].price_delta",
        "must be between -999.99 and 999.99",
    ),
    ("name with U+202E", lambda d: item(d, 0, 1).update(name="Pizza \u202eanaib"), f"{BIANCA}.name", "(U+202E)"),
    (
        "description with U+200B",
        lambda d: item(d, 0, 1).update(description="contains n\u200buts"),
        f"{BIANCA}.description",
        "invisible, direction or control characters (U+200B)",
    ),
    (
        "option name with U+2066",
        lambda d: group(d, 0)["options"][0].update(name="\u2066Medium"),
        f"{MARGHERITA}.modifier_groups[0].options[0].name",
        "(U+2066)",
    ),
    (
        "a name nested 900 deep",
        lambda d: item(d, 0, 1).update(name=json.loads("[" * 900 + "]" * 900)),
        f"{BIANCA}.name",
        "printable characters",
    ),
    ("price true", set_price(True), f"{BIANCA}.price", "must be a number"),
    (
        "a delta taking the price to 0",
        lambda d: group(d, 0)["options"][2].update(price_delta="-12.50"),
        f"{MARGHERITA}.modifier_groups[0].options[2].price_delta",
        "must be between -12.49 and 999.99",
    ),
    (
        "min above the options",
        lambda d: group(d, 2).update(min=2),
        f"{MARGHERITA}.modifier_groups[2].min",
        "is more than the group has options",
    ),
    ("max under min", lambda d: group(d, 0).update(max=0), f"{MARGHERITA}.modifier_groups[0].max", "at least min"),
    ("unknown station", lambda d: item(d, 1, 0).update(station="grill"), f"{COLA}.station", "unknown station 'grill'"),
]


@pytest.mark.parametrize(("change", "path", "message"), [case[1:] for case in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_a_bad_file_is_refused_naming_the_field_and_nothing_is_written(tmp_path, change, path, message):
    load_test_menu()
    data = menu_copy()
    data["categories"][1]["items"][0]["price"] = "2.80"  # a change that must not be written either
    change(data)
    before = catalog_state()

    with pytest.raises(CommandError) as refused:
        load_menu(write(tmp_path, data))

    text = str(refused.value)
    assert "refused, nothing written" in text
    [line] = [line for line in text.splitlines() if line.strip().startswith(f"{path}:")]
    assert message in line
    assert catalog_state() == before
    assert MenuItem.objects.get(sku="cola").price == Decimal("3.00")


@pytest.mark.parametrize(
    ("delta", "refused"), [("-12.49", False), ("-12.50", True)], ids=["leaves a cent", "leaves nothing"]
)
def test_a_negative_delta_may_take_the_price_down_to_one_cent(tmp_path, delta, refused):
    data = menu_copy()
    group(data, 0)["options"][2]["price_delta"] = delta

    if refused:
        with pytest.raises(CommandError, match=r"options\[2\]\.price_delta"):
            load_menu(write(tmp_path, data))
        assert MenuItem.objects.count() == 0
    else:
        load_menu(write(tmp_path, data))
        assert ModifierOption.objects.get(code="small").price_delta == Decimal(delta)


def test_a_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "menu.json"
    path.write_text("{not json")

    with pytest.raises(CommandError, match="is not JSON"):
        load_menu(path)


def test_the_files_texts_are_kept_in_their_one_normal_form(tmp_path):
    data = menu_copy()
    item(data, 0, 1).update(name="Pizza Bianca Cre\u0300me", description="Cre\u0300me, garlic 👩\u200d🍳")

    load_menu(write(tmp_path, data))

    bianca = MenuItem.objects.get(sku=item(data, 0, 1)["sku"])
    assert (bianca.name, bianca.description) == ("Pizza Bianca Crème", "Crème, garlic 👩\u200d🍳")


def test_a_file_nested_deeper_than_json_can_be_read_is_refused(tmp_path):
    path = tmp_path / "menu.json"
    path.write_text('{"stations": ' + "[" * 100_000)

    with pytest.raises(CommandError, match="is not JSON: nested too deeply"):
        load_menu(path)
    assert MenuItem.objects.count() == 0


@pytest.mark.parametrize("prep", [0, 7201, 1.5, "60", True])
def test_a_stations_prep_time_must_be_whole_seconds_from_1_to_7200(prep):
    from menu.services import MenuInvalid, parse_menu

    with pytest.raises(MenuInvalid) as refused:
        parse_menu({"stations": [{"code": "oven", "name": "Oven", "prep_seconds": prep}], "categories": []})
    assert refused.value.errors == {"stations[0].prep_seconds": ["must be a whole number of seconds from 1 to 7200"]}
    assert parse_menu({"stations": [{"code": "oven", "name": "Oven", "prep_seconds": 7200}], "categories": []})
