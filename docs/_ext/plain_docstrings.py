"""Let plain-text math in docstrings through reStructuredText unharmed.

The package's docstrings are NumPy style (read by napoleon) but write their math as plain text:
``|x|``, ``E||e_k||^2``, ``x^*``, continuation lines indented under a ``name : text`` line. To
reStructuredText those are substitution references, emphasis and block quotes, and a warning-free build
(-W) would fail on them. This hook runs after napoleon and, outside inline literals, roles, literal blocks
(``::``), directives that hold code or math, and doctest blocks, escapes ``|`` and ``*`` and a trailing
``_``, and joins an over-indented continuation line to the line it continues. It changes how the text is
parsed, never what it says.
"""
from __future__ import annotations

import re

_LITERAL = re.compile(r"(``.+?``|:[\w:.-]+:`[^`]*`|`[^`]*`_{0,2})")
_VERBATIM_DIRECTIVES = ("math", "code", "code-block", "sourcecode", "doctest", "testcode", "plot",
                        "literalinclude")


def _escape(text: str) -> str:
    parts = _LITERAL.split(text)
    for i in range(0, len(parts), 2):  # even indices: outside literals and roles
        p = parts[i]
        p = p.replace("|", "\\|").replace("*", "\\*")
        p = re.sub(r"(?<=\w)_(?=\s|$|[),.;:\]])", r"\\_", p)
        parts[i] = p
    return "".join(parts)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def sanitize(lines: list[str]) -> list[str]:
    out: list[str] = []
    keep_above: int | None = None  # inside a verbatim block opened at this indent
    doctest = False
    prev_indent, prev_blank, prev_directive = 0, True, False
    bullet_indent: int | None = None
    for line in lines:
        stripped = line.strip()
        indent = _indent(line)
        if keep_above is not None:
            if stripped and indent <= keep_above:
                keep_above = None
            else:
                out.append(line)
                continue
        if not stripped:
            doctest = False
            out.append(line)
            prev_blank = True
            continue
        if stripped.startswith(">>>") or doctest:
            doctest = True
            out.append(line)
            prev_blank, prev_directive, prev_indent = False, False, indent
            continue
        directive = re.match(r"\.\.\s+([\w:-]+)::", stripped)
        if directive or stripped.startswith(".. "):
            out.append(line)
            if directive and directive.group(1).split(":")[-1] in _VERBATIM_DIRECTIVES:
                keep_above = indent
            prev_blank, prev_directive, prev_indent = False, True, indent
            continue
        bullet = re.match(r"(\s*[*-] )(.*)$", line)  # keep a bullet marker a bullet marker
        if bullet:
            bullet_indent = indent
        elif bullet_indent is not None and indent <= bullet_indent:
            if not prev_blank:
                out.append("")  # a list must end with a blank line
                prev_blank = True
            bullet_indent = None
        text = bullet.group(1) + _escape(bullet.group(2)) if bullet else _escape(line)
        if (not prev_blank and not prev_directive and indent > prev_indent and out
                and not out[-1].rstrip().endswith("::")):
            out[-1] = out[-1].rstrip() + " " + text.strip()
        else:
            out.append(text)
            prev_indent = indent
        prev_blank, prev_directive = False, False
        if stripped.endswith("::"):
            keep_above = indent
    return out


def _process(app, what, name, obj, options, lines):
    lines[:] = sanitize(lines)


def setup(app):
    app.connect("autodoc-process-docstring", _process, priority=900)  # after napoleon (500)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
