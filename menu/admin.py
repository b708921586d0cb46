"""The back office for the menu: stations (their capacity per slot), categories, items (their load) with
their modifier groups (the options are edited on a group's own page), the two actions that 86 an item
and bring it back, and the kitchen's hours and slots (one row, checked by load_menu's own rules).

The Kitchen role holds only `menu.view_menuitem` and `menu.set_availability`: the site lets it into
this app alone (`admit` below), where it sees the item list read only and runs the two actions."""

import functools
import re
import zoneinfo
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Min
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from menu.models import PRICE_MIN, Category, Kitchen, MenuItem, ModifierGroup, ModifierOption, Station
from menu.services import DAYS, KITCHEN_NUMBERS, MenuInvalid, kitchen_set, menu_items_set_available, parse_kitchen

SET_AVAILABILITY_PERMISSION = "menu.set_availability"
PAUSE_PERMISSION = "menu.pause_asap"  # orders/admin/pause.py's page, linked from the kitchen's

admin.site.admit(SET_AVAILABILITY_PERMISSION)


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "prep_seconds", "capacity_per_slot", "display_order"]
    search_fields = ["code", "name"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "display_order"]
    search_fields = ["code", "name"]
    prepopulated_fields = {"code": ["name"]}


# --- items --------------------------------------------------------------------------------------


class MenuItemForm(forms.ModelForm):
    def clean_price(self):
        price = self.cleaned_data["price"]
        if self.instance.pk and price is not None:
            lowest = ModifierOption.objects.filter(group__item=self.instance).aggregate(low=Min("price_delta"))["low"]
            if lowest is not None and price + lowest < PRICE_MIN:
                raise forms.ValidationError(
                    f"An option of this item has a delta of {lowest}: the price must be at least {PRICE_MIN - lowest}."
                )
        return price


class ModifierGroupForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("min_choices"), cleaned.get("max_choices")
        if low is not None and high is not None and high < low:
            self.add_error("max_choices", "Must be at least the minimum (or empty: no limit).")
        return cleaned


class ModifierGroupInlineForm(ModifierGroupForm):
    """On the item's page the group's options are not in the form: the minimum is checked against
    those it has (a new group has none yet: add them on its own page, then raise the minimum)."""

    def clean(self):
        cleaned = super().clean()
        low = cleaned.get("min_choices")
        options = self.instance.options.count() if self.instance.pk else 0
        if low is not None and low > options:
            self.add_error("min_choices", f"The group has {options} option(s): an order could never choose {low}.")
        return cleaned


class ModifierGroupInline(admin.TabularInline):
    model = ModifierGroup
    form = ModifierGroupInlineForm
    fields = ["code", "name", "min_choices", "max_choices", "display_order"]
    extra = 0
    show_change_link = True  # the options are edited there


@admin.register(MenuItem)
class MenuItemAdmin(admin.ModelAdmin):
    form = MenuItemForm
    list_display = ["sku", "name", "category", "station", "load", "price", "available", "display_order"]
    list_display_links = ["sku", "name"]
    list_filter = ["category", "station", "available"]
    search_fields = ["sku", "name"]
    list_select_related = ["category", "station"]
    ordering = ["category__display_order", "category__name", "display_order", "name"]
    prepopulated_fields = {"sku": ["name"]}
    readonly_fields = ["updated_at"]
    inlines = [ModifierGroupInline]
    actions = ["mark_sold_out", "mark_available"]

    def has_set_availability_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(SET_AVAILABILITY_PERMISSION)

    @admin.action(description="Mark sold out", permissions=["set_availability"])
    def mark_sold_out(self, request: HttpRequest, queryset) -> None:
        self._set_available(request, queryset, available=False, label="sold out")

    @admin.action(description="Mark available", permissions=["set_availability"])
    def mark_available(self, request: HttpRequest, queryset) -> None:
        self._set_available(request, queryset, available=True, label="available")

    def _set_available(self, request: HttpRequest, queryset, *, available: bool, label: str) -> None:
        skus = list(queryset.values_list("sku", flat=True))
        changed = menu_items_set_available(skus=skus, available=available)
        message = f"Marked {label}: {changed} of {len(skus)} item(s) changed"
        already = len(skus) - changed
        text = f"{message}, {already} already {label}." if already else f"{message}."
        self.message_user(request, text, messages.SUCCESS)


# --- modifier groups and their options ----------------------------------------------------------


class ModifierOptionForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        group, code, delta = cleaned.get("group"), cleaned.get("code"), cleaned.get("price_delta")
        item = group.item if group is not None and group.item_id else None
        if item is None:
            return cleaned
        if delta is not None and item.price + delta < PRICE_MIN:
            self.add_error(
                "price_delta",
                f"The item costs {item.price}: a delta below {PRICE_MIN - item.price} "
                f"would price it under {PRICE_MIN}.",
            )
        # An order names options by code alone, so a code is the item's, not just its group's.
        clash = ModifierOption.objects.filter(group__item=item, code=code).exclude(group_id=group.pk)
        if code and (other := clash.select_related("group").first()) is not None:
            self.add_error(
                "code",
                f"{code!r} is an option of this item's group {other.group.name!r} already: "
                "option codes must be unique across an item's groups.",
            )
        return cleaned


class ModifierOptionFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [form for form in self.forms if form.has_changed() or form.instance.pk]
        kept = [form for form in kept if not (self.can_delete and self._should_delete_form(form))]
        low = self.instance.min_choices or 0
        if len(kept) < low:
            raise forms.ValidationError(f"The group's minimum is {low}: it needs at least {low} option(s).")


class ModifierOptionInline(admin.TabularInline):
    model = ModifierOption
    form = ModifierOptionForm
    formset = ModifierOptionFormSet
    fields = ["code", "name", "price_delta", "available", "display_order"]
    extra = 1


@admin.register(ModifierGroup)
class ModifierGroupAdmin(admin.ModelAdmin):
    form = ModifierGroupForm
    list_display = ["item", "name", "code", "min_choices", "max_choices"]
    list_select_related = ["item"]
    search_fields = ["item__sku", "item__name", "code", "name"]
    ordering = ["item__sku", "display_order", "id"]
    inlines = [ModifierOptionInline]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # Moved to another item, a group would take its option codes there unchecked.
        return ["item"] if obj is not None else []


# --- the kitchen's hours and slots ----------------------------------------------------------------

# A line of the opening hours: the days, then the opening and closing time ("mon-fri 11:30-22:30").
HOURS_LINE = re.compile(r"(?P<days>.*?)\s+(?P<open>[0-9:]+)\s*[-–]\s*(?P<close>[0-9:]+)")
HOURS_HELP = (
    "One range per line: the days, then the opening and closing time in the kitchen's time zone, e.g. "
    "<code>mon-fri 11:30-22:30</code> or <code>sat,sun 18:00-24:00</code> (24:00: the end of the day). A day "
    "may have several ranges, a line each (lunch and dinner). Empty: open all day, every day."
)
KITCHEN_HELP = {
    "time_zone": "The restaurant's clock: opening hours, slots, the screens' clocks and the day's reports.",
    "slot_minutes": (
        "How long a slot is; a station's capacity is per slot. Orders already booked keep the slots "
        "they were booked in: change it when few orders for later are booked."
    ),
    "asap_horizon_minutes": "How far ahead an ASAP order may be promised; when no slot has room by then it is refused.",
    "days_ahead": "How many days ahead guests may order for later (0: today only).",
}


def days_text(days: list[str]) -> str:
    """A range's days as the hours box writes them: in week order, three or more in a row as a range
    ("mon-fri,sun")."""
    runs: list[list[int]] = []
    for index in sorted({DAYS.index(day) for day in days if day in DAYS}):
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    parts = [f"{DAYS[run[0]]}-{DAYS[run[-1]]}" if len(run) >= 3 else ",".join(DAYS[i] for i in run) for run in runs]
    return ",".join(parts + [day for day in days if day not in DAYS])


def hours_text(hours: list[dict]) -> str:
    return "\n".join(f"{days_text(entry['days'])} {entry['open']}-{entry['close']}" for entry in hours)


def _days_of(text: str) -> list[str]:
    """The days a line names ("mon-fri", "sat,sun", "fri-mon" across the week's end), in week order;
    a word that is no day is kept as written, for load_menu's rule to name it."""
    days: list[str] = []
    for word in filter(None, re.split(r"[,\s]+", text.lower())):
        first, _, last = word.partition("-")
        if last and first in DAYS and last in DAYS:
            start, length = DAYS.index(first), (DAYS.index(last) - DAYS.index(first)) % 7 + 1
            days += [DAYS[(start + n) % 7] for n in range(length)]
        else:
            days.append(word)
    known = [day for day in DAYS if day in days]
    return known + [day for day in dict.fromkeys(days) if day not in DAYS]


def _clock(text: str) -> str:
    return f"0{text}" if re.fullmatch(r"[0-9]:[0-9]{2}", text) else text  # 9:00 as 09:00


def hours_from_text(text: str) -> tuple[list[dict], list[str]]:
    """The hours box's lines as the menu file's `"hours"` (for `parse_kitchen` to check), with each
    range's line as typed (to name it in an error); ValidationError for a line that is not a range."""
    hours, lines, bad = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = HOURS_LINE.fullmatch(line)
        if match is None or not match["days"].strip():
            bad.append(f'Line {number}, "{line}": write the days, then the times, e.g. mon-fri 11:30-22:30.')
            continue
        hours.append({"days": _days_of(match["days"]), "open": _clock(match["open"]), "close": _clock(match["close"])})
        lines.append(f'Line {number}, "{line}"')
    if bad:
        raise forms.ValidationError(bad)
    return hours, lines


@functools.cache
def zone_choices() -> list:
    """Every IANA zone load_menu accepts, grouped by region (UTC first)."""
    regions: dict[str, list[tuple[str, str]]] = {}
    for zone in sorted(zoneinfo.available_timezones() - {"UTC"}):
        regions.setdefault(zone.split("/")[0] if "/" in zone else "Other", []).append((zone, zone))
    other = regions.pop("Other", [])
    return [("UTC", "UTC"), *regions.items(), *([("Other", other)] if other else [])]


class KitchenForm(forms.ModelForm):
    """The kitchen's clock, checked by `parse_kitchen` (load_menu's rules) and nothing of its own, so the
    admin and the menu file accept the same values; each error is put on its field."""

    # Not a ChoiceField: a zone is load_menu's rule to refuse, with its message.
    time_zone = forms.CharField(
        max_length=64, widget=forms.Select(choices=zone_choices), help_text=KITCHEN_HELP["time_zone"]
    )
    hours = forms.CharField(
        label="Hours",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 40, "spellcheck": "false"}),
        help_text=HOURS_HELP,
    )

    class Meta:
        model = Kitchen
        fields = ["time_zone", "slot_minutes", "asap_horizon_minutes", "days_ahead", "hours"]
        labels = {
            "slot_minutes": "Slot (minutes)",
            "asap_horizon_minutes": "ASAP horizon (minutes)",
            "days_ahead": "Days ahead",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["hours"] = hours_text(self.instance.hours)
        for name, (_, low, high) in KITCHEN_NUMBERS.items():
            if field := self.fields.get(name):  # none on the read-only page
                field.widget.attrs.update(min=low, max=high)
                field.help_text = f"{KITCHEN_HELP[name]} {low}–{high}."

    def clean(self):
        cleaned = super().clean()
        raw = {name: cleaned[name] for name in ["time_zone", *KITCHEN_NUMBERS] if cleaned.get(name) is not None}
        lines: list[str] = []
        if "hours" in cleaned:
            try:
                raw["hours"], lines = hours_from_text(cleaned["hours"])
            except forms.ValidationError as error:
                self.add_error("hours", error)  # and the other fields are still checked
        try:
            kitchen = parse_kitchen(raw)
        except MenuInvalid as invalid:
            for path, problems in invalid.errors.items():
                self._add_kitchen_error(path, problems, lines)
            cleaned.pop("hours", None)  # the box's text is no JSON for the row, even unsaved
            return cleaned
        if not self.has_error("hours"):
            cleaned.update(kitchen)
        return cleaned

    def _add_kitchen_error(self, path: str, problems: list[str], lines: list[str]) -> None:
        """`kitchen.slot_minutes` on its field; `kitchen.hours[2].close` on the hours, naming the line."""
        name = path.removeprefix("kitchen.")
        if match := re.fullmatch(r"hours\[(\d+)\]\.(\w+)", name):
            line, what = lines[int(match[1])], match[2]
            self.add_error("hours", [f"{line}: {what} {problem}." for problem in problems])
        elif name in self.fields and name not in self.errors:
            self.add_error(name, [f"Must {problem.removeprefix('must ')}." for problem in problems])
        elif name not in self.fields:
            self.add_error(None, [f"{name} {problem}" for problem in problems])


@admin.register(Kitchen)
class KitchenAdmin(admin.ModelAdmin):
    """One row (pk 1), made by the first save when the menu file had no `"kitchen"`: no list (it goes to
    the row), no add, no delete. Its ASAP pause is shown but never written here (orders/pause.py's)."""

    form = KitchenForm

    def get_fieldsets(self, request: HttpRequest, obj=None):
        # Read only (Front of house), the hours are shown as the box writes them, not as JSON.
        hours = "hours" if self.has_change_permission(request, obj) else "opening_hours"
        pause = "Paused and resumed on Orders › Kitchen busy and on expo, never by this page."
        if request.user.has_perm(PAUSE_PERMISSION):
            busy = reverse("admin:kitchen_busy", current_app=self.admin_site.name)
            pause = format_html('Paused and resumed on <a href="{}">Orders › Kitchen busy</a> and on expo.', busy)
        return [
            ("Clock", {"fields": ["time_zone", "slot_minutes"]}),
            ("Orders", {"fields": ["asap_horizon_minutes", "days_ahead"]}),
            ("Opening hours", {"fields": [hours]}),
            ("ASAP pause", {"fields": ["asap_pause"], "description": pause}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ["asap_pause", "opening_hours"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_object(self, request: HttpRequest, object_id: str, from_field=None):
        if str(object_id) != "1":
            return None
        # No row yet: the defaults, which are what the kitchen's clock reads when there is none.
        return Kitchen.objects.filter(pk=1).first() or Kitchen(pk=1)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:menu_kitchen_change", args=[1], current_app=self.admin_site.name))

    def save_model(self, request: HttpRequest, obj: Kitchen, form: KitchenForm, change: bool) -> None:
        kitchen_set({name: form.cleaned_data[name] for name in KitchenForm.Meta.fields})

    @admin.display(description="Hours")
    def opening_hours(self, obj: Kitchen) -> str:
        if not obj.hours:
            return "Open all day, every day."
        return format_html_join("", "<div>{}</div>", ((line,) for line in hours_text(obj.hours).splitlines()))

    @admin.display(description="New ASAP orders")
    def asap_pause(self, obj: Kitchen) -> str:
        if obj.paused_until is None or obj.paused_until <= timezone.now():
            return "Taken (not paused)."
        local = obj.paused_until.astimezone(ZoneInfo(obj.time_zone)).strftime("%H:%M")
        return f"Paused until {local} ({obj.time_zone}) by {obj.paused_by or 'someone'}."
