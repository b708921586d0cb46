"""Text that people type and others read (a ticket, the board, the menu): its one form, and the
characters it may not hold.

Format characters (Unicode category Cf: zero-width spaces and joiners, direction overrides such as
U+202E) are invisible: `n\u200buts` shows as "nuts" on a ticket but dodges the allergy highlight, and a
direction override makes text read other than it is stored. Control characters (Cc) other than the
ones a field allows break a ticket's layout. Both are refused, naming the first one.
"""

import unicodedata

ZERO_WIDTH_JOINER = "\u200d"


def clean_text(value: str) -> str:
    """A text as it is kept and measured: NFC-normalized (José is one form, whatever was typed) and trimmed."""
    return unicodedata.normalize("NFC", value).strip()


def hidden_character(value: str, allowed: str = "") -> str | None:
    """The first format or control character of `value` not in `allowed`, as `U+XXXX`; None when there is
    none. A zero-width joiner is taken where it joins emoji (👨‍🍳: no letter or digit on either side)."""
    for index, char in enumerate(value):
        if char in allowed or unicodedata.category(char) not in ("Cf", "Cc"):
            continue
        if char == ZERO_WIDTH_JOINER and not any(
            0 <= at < len(value) and value[at].isalnum() for at in (index - 1, index + 1)
        ):
            continue
        return f"U+{ord(char):04X}"
    return None


def hidden_character_error(value: str, allowed: str = "") -> str | None:
    """The message for a text holding a character `hidden_character` finds."""
    if char := hidden_character(value, allowed):
        return f"must not contain invisible, direction or control characters ({char})"
    return None
