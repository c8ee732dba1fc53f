"""The one rule for text that enters the service: no control characters.

A NUL byte cannot be stored in a PostgreSQL ``text`` or ``jsonb`` value, terminal
control characters (ESC, BEL …) in a prize name reach operators' screens and printers,
and a lone UTF-16 surrogate cannot be encoded at all. Every text a caller sends — an
API body field, a query parameter, a path, an imported cell, a CLI argument — is held
to this rule at the point it enters, and refused with the field it sits in, instead of
failing deep inside the database with a traceback.

Tab and newline are allowed only where a text may span lines (a comment, a note);
carriage return too there, since browsers send ``\\r\\n`` in a textarea.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from stations.errors import ControlCharacter

CODE = "control_character"
# C0 controls, DEL, C1 controls, and UTF-16 surrogates (only a lone one reaches a str).
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
PATTERN = _ANY_CONTROL.pattern
"""The refused characters of one-line text, as a regular expression (for vectorised checks)."""


def control_character(text: str, *, multiline: bool = False) -> str | None:
    """The first refused character of ``text`` as ``U+XXXX``, or None when it is clean."""
    found = (_CONTROL_BUT_LINES if multiline else _ANY_CONTROL).search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


# In orjson's serialisation: C0 controls are escaped (\u00XX, \b \t \n \f \r), DEL and
# C1 controls appear as their UTF-8 bytes. A match may be a false alarm (an escaped
# backslash before an "n"); the exact walk below decides.
_MAYBE_CONTROL = re.compile(rb"\\u00[01][0-9a-f]|\\[btnfr]|\x7f|\xc2[\x80-\x9f]")


def find_control(value: Any, *, multiline: bool = False) -> tuple[str, str] | None:
    """The first refused character anywhere in ``value`` (text, keys, lists, dicts).

    Answers ``(path, "U+XXXX")``, ``path`` being the dotted way into ``value`` (``""``
    for the value itself, ``note`` or ``tags.2`` inside it), or None when it is clean.
    A large structure (a batch's 10,000 points) is screened at C speed first.
    """
    if isinstance(value, (list, dict)):
        try:
            if _MAYBE_CONTROL.search(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)) is None:
                return None
        except (orjson.JSONEncodeError, TypeError):
            pass  # a lone surrogate, or a value JSON cannot hold: walk it
    for path, text in _texts(value, ""):
        char = control_character(text, multiline=multiline)
        if char is not None:
            return path, char
    return None


def _texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                yield inner, key
            yield from _texts(item, inner)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _texts(item, f"{path}.{index}" if path else str(index))


def message(field: str, char: str, *, multiline: bool = False) -> str:
    """The one wording of the refusal."""
    allowed = " (tab and line breaks are fine here)" if multiline else ""
    return (
        f"{field}: contains the control character {char}; send plain text without "
        f"NUL or other control characters{allowed}"
    )


def check_text(value: Any, *, field: str, multiline: bool = False) -> None:
    """Raise ControlCharacter (code ``control_character``) when ``value`` holds a refused character.

    ``value`` may be text or a JSON-like structure; the field named is ``field`` plus
    the way into the structure (``attributes.note``).
    """
    found = find_control(value, multiline=multiline)
    if found is not None:
        path, char = found
        where = f"{field}.{path}" if path else field
        raise ControlCharacter(
            message(where, char, multiline=multiline), field=where, character=char
        )
