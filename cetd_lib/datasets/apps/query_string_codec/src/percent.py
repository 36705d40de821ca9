"""Percent-encoding (RFC 3986 style) implemented by hand on UTF-8 bytes."""
from __future__ import annotations

import string

UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_HEX = "0123456789abcdefABCDEF"


def quote(text: str, safe: str = "") -> str:
    """Percent-encode everything except unreserved characters and `safe` ASCII characters."""
    keep = UNRESERVED | {c for c in safe if ord(c) < 128}
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if byte < 128 and ch in keep:
            out.append(ch)
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def quote_plus(text: str) -> str:
    """Like quote() but spaces become '+' (form encoding)."""
    return quote(text, safe=" ").replace(" ", "+")


def unquote(text: str, plus_as_space: bool = False) -> str:
    """Decode %XX escapes (UTF-8). Malformed escapes raise ValueError."""
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            pair = text[i + 1:i + 3]
            if len(pair) != 2 or any(c not in _HEX for c in pair):
                raise ValueError(f"bad percent escape at index {i}")
            raw.append(int(pair, 16))
            i += 3
            continue
        if ch == "+" and plus_as_space:
            raw.append(0x20)
        else:
            raw.extend(ch.encode("utf-8"))
        i += 1
    return raw.decode("utf-8")
