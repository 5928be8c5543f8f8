"""Docstrings in dod_sim's plain-text style, made into reStructuredText for autodoc.

dod_sim's docstrings list arguments, fields and columns as lines ``name : what it
is``, a longer one going on in lines indented under it (numpy's parameter style,
without a section header)::

    params : {name: default}, int, float or bool scalars
    stats : {name: Stat | fn(world) -> float}, the per-step model statistics:
        compiled or Python functions of the world
    view : default arguments of plot

reStructuredText reads such a block as one paragraph broken by an unexpected
indentation (docutils errors, which ``-W`` makes fatal) and runs the items together.
:func:`rest_items` turns each such block into a bullet list, one item a bullet with its
indented lines as the item's own, and separates it from the text after it by a blank
line. A paragraph is only rewritten when it starts with an item line and holds two
items or an indented line. Literal blocks (after ``::``), directives and doctest
blocks are left as they are. ``|v|`` (an absolute value, not a substitution, which
no docstring defines) is escaped.

Registered by ``docs/conf.py`` on ``autodoc-process-docstring``, after napoleon (whose
numpy sections come out as field lists, which this leaves alone).
"""

from __future__ import annotations

import re

# "name : text": a short name (identifiers, commas, quotes, spaces), then " : "
ITEM = re.compile(r"^(?P<name>[\w`\"'*.,\[\]{}()| -]{1,64}?) : (?P<text>\S.*)$")
IDENTS = re.compile(r"^[A-Za-z_]\w*(?:, [A-Za-z_]\w*)*$")
BULLET = re.compile(r"^([-*+]|\d+[.)]|#\.) \S")
BARS = re.compile(r"(?<![\\`|])\|(\w+)\|(?![`|_])")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _item(line: str) -> re.Match | None:
    s = line.strip()
    if s.startswith((":", "..", ">>>")) or BULLET.match(s):
        return None
    return ITEM.match(s)


def _bullet(line: str, base: int) -> str:
    m = _item(line)
    if m is None:  # a line of the group with indented lines but no " : "
        return " " * base + "- " + line.strip()
    name = m["name"]
    if IDENTS.match(name):
        name = ", ".join(f"``{n}``" for n in name.split(", "))
    return " " * base + f"- {name} : {m['text']}"


def _escape(line: str) -> str:
    # outside inline literals only: split on ``...``
    parts = re.split(r"(``.*?``)", line)
    return "".join(p if p.startswith("``") else BARS.sub(r"\\|\1\\|", p) for p in parts)


def rest_items(lines: list[str]) -> list[str]:
    """``lines`` (a docstring, one line each) with its item blocks as bullet lists."""
    out: list[str] = []
    i, n = 0, len(lines)
    verbatim = None  # indentation that a literal block or directive must exceed
    while i < n:
        line = lines[i]
        blank = not line.strip()
        if verbatim is not None:
            if blank or _indent(line) > verbatim:
                out.append(line)
                i += 1
                continue
            verbatim = None
        if blank:
            out.append(line)
            i += 1
            continue
        s = line.strip()
        first = i == 0 or not lines[i - 1].strip() or _indent(lines[i - 1]) != _indent(line)
        if s.startswith(">>>"):  # a doctest block runs to the next blank line
            while i < n and lines[i].strip():
                out.append(lines[i])
                i += 1
            continue
        if s.endswith("::") or s.startswith(".. "):
            out.append(_escape(line) if not s.startswith(".. ") else line)
            verbatim = _indent(line)
            i += 1
            continue
        if first and _item(line):
            group, j = _group(lines, i)
            if group:
                if out and out[-1].strip() and _indent(out[-1]) >= _indent(line):
                    out.append("")  # a list needs a blank line above, unless it is the
                    # body of a definition list term or of a list item
                out.extend(group)
                i = j
                if i < n and lines[i].strip():
                    out.append("")  # and one below
                continue
        out.append(_escape(line))
        i += 1
    return out


def _group(lines: list[str], i: int) -> tuple[list[str], int]:
    """The bullet list made of the item lines from ``lines[i]`` on, and the index after
    them; ``[]`` when the paragraph is not such a block."""
    base = _indent(lines[i])
    out, items, indented, n = [], 0, False, len(lines)
    while i < n and lines[i].strip() and _indent(lines[i]) == base:
        j = i + 1
        while j < n and lines[j].strip() and _indent(lines[j]) > base:
            j += 1
        if not _item(lines[i]) and j == i + 1:
            break  # a line of text after the items: the list ends above it
        items += 1
        out.append(_escape(_bullet(lines[i], base)))
        if j > i + 1:
            indented = True
            cont = _indent(lines[i + 1])
            for k in range(i + 1, j):
                extra = max(0, _indent(lines[k]) - cont)
                out.append(" " * (base + 2 + extra) + _escape(lines[k].strip()))
        i = j
    if items >= 2 or indented:
        return out, i
    return [], i


def process_docstring(app, what, name, obj, options, lines) -> None:
    """autodoc-process-docstring: rewrite ``lines`` in place."""
    lines[:] = rest_items(lines)


def connect(app) -> None:
    # after napoleon's handler (priority 500, connected when its extension loaded)
    app.connect("autodoc-process-docstring", process_docstring, priority=600)
