"""Text that may reach metadata, pages and PNG text: no invisible control characters.

A NUL cuts a C string short in some readers; C0/C1 controls and DEL show as nothing or as
garbage; the bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder how
the text around them is shown, so "Roboz #1\u202egnp.exe" reads as something it is not. None
of them has a use in a name, a trait or a prompt. Only a description may break lines (and
indent with tabs).
"""

from __future__ import annotations

import re
import unicodedata

BIDI_CONTROLS = {
    0x202A: "LEFT-TO-RIGHT EMBEDDING", 0x202B: "RIGHT-TO-LEFT EMBEDDING", 0x202C: "POP DIRECTIONAL FORMATTING",
    0x202D: "LEFT-TO-RIGHT OVERRIDE", 0x202E: "RIGHT-TO-LEFT OVERRIDE", 0x2066: "LEFT-TO-RIGHT ISOLATE",
    0x2067: "RIGHT-TO-LEFT ISOLATE", 0x2068: "FIRST STRONG ISOLATE", 0x2069: "POP DIRECTIONAL ISOLATE",
}
MULTILINE_OK = "\n\t"
# The same set as bad_char, for scanning many strings fast (plan.json of a million tokens).
BAD_RE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
BAD_MULTILINE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def bad_char(ch: str, multiline: bool = False) -> bool:
    o = ord(ch)
    if multiline and ch in MULTILINE_OK:
        return False
    return o < 0x20 or 0x7F <= o <= 0x9F or o in BIDI_CONTROLS


def control_problem(text: str, multiline: bool = False) -> str | None:
    """Why `text` cannot go into metadata (the first forbidden character, its code and position), or None.

    `multiline`: line breaks and tabs are allowed (descriptions). Leading and trailing line breaks
    (what a YAML block scalar adds) are allowed everywhere: the manifest strips them.
    """
    body = text.strip("\r\n")
    for i, ch in enumerate(body):
        if bad_char(ch, multiline):
            o = ord(ch)
            name = BIDI_CONTROLS.get(o) or unicodedata.name(ch, "") or _C0_NAMES.get(o, "a control character")
            kind = "a bidirectional control" if o in BIDI_CONTROLS else "a control character"
            pos = i + len(text) - len(text.lstrip("\r\n"))
            return f"contains {kind}, U+{o:04X} ({name}), at character {pos + 1}; remove it"
    return None


_C0_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BACKSPACE", 0x09: "TAB", 0x0A: "LINE FEED", 0x0B: "VERTICAL TAB",
             0x0C: "FORM FEED", 0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE", 0x7F: "DELETE"}
