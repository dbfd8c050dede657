"""Fault path patterns: regular expressions cut down so that no match can run for long."""

from __future__ import annotations

import re

MAX_PATTERN = 200
MAX_VARIABLE_REPEATS = 2
MAX_MATCHED_PATH = 1024
_TOKEN = re.compile(r"""
    (?P<backref>\\[1-9gk]) | (?P<escape>\\.) | (?P<cls>\[\^?\]?[^\]]*\]) |
    (?P<special>\(\?(?!:)) | (?P<group>\((?:\?:)?) | (?P<close>\)) | (?P<alternation>\|) |
    (?P<repeat>(?:[*+?]|\{[0-9]*,?[0-9]*\})\??) | (?P<char>[^\\()\[]) | (?P<bad>.)
""", re.VERBOSE | re.DOTALL)
_FIXED_REPEAT = re.compile(r"\{[0-9]+\}\??")


def check_pattern(pattern: str) -> None:
    """Refuse a path pattern a backtracking matcher could spend long on (ValueError).

    Python's `re` has no time limit, so the language is cut down instead: a repeat applies to
    one character or class, never to a group; no alternation, backreference or lookaround; at
    most MAX_VARIABLE_REPEATS repeats of variable length. Backtracking is then at most
    quadratic, and paths longer than MAX_MATCHED_PATH never match a fault."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"at most {MAX_PATTERN} characters")
    variable, repeatable = 0, False
    for token in _TOKEN.finditer(pattern):
        kind = token.lastgroup
        if kind in ("backref", "special", "alternation", "bad"):
            raise ValueError(f"{token.group()!r} is not supported (no alternation, "
                             "backreferences, lookarounds or inline flags; add one fault per "
                             "alternative)")
        if kind == "repeat":
            if not repeatable:
                raise ValueError("a repeat must follow one character or class, not a group "
                                 "or another repeat")
            variable += not _FIXED_REPEAT.fullmatch(token.group())
        repeatable = kind in ("escape", "cls", "char")
    if variable > MAX_VARIABLE_REPEATS:
        raise ValueError(f"at most {MAX_VARIABLE_REPEATS} repeats of variable length "
                         "(*, +, ?, {m,n})")
    re.compile(pattern)
