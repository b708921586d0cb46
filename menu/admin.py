"""The back office for the menu: stations, categories, items with their modifier groups (the options
are edited on a group's own page), and the two actions that 86 an item and bring it back.

The Kitchen role holds only `menu.view_menuitem` and `menu.set_availability`: the site lets it into
this app alone (`admit` below), where it sees the item list read only and runs the two actions."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Min
from django.http import HttpRequest

from menu.models import PRICE_MIN, Category, MenuItem, ModifierGroup, ModifierOption, Station
from menu.services import menu_items_set_available

SET_AVAILABILITY_PERMISSION = "menu.set_availability"

admin.site.admit(SET_AVAILABILITY_PERMISSION)


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "prep_seconds", "display_order"]
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
    list_display = ["sku", "name", "category", "station", "price", "available", "display_order"]
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
