"""A griffe extension for the API pages: the reStructuredText bits of mlplab's numpydoc
docstrings, in Markdown.

The docstrings are numpydoc (read by ``help()``, IDEs and Sphinx alike); mkdocstrings renders
them as Markdown, where Sphinx's roles and directives would show as raw text. At build time,
and only in the site, this turns

- ``:func:`mlplab.fit``` (any role: func, class, meth, mod, attr, data, exc) into ```mlplab.fit```,
  and ``:func:`~mlplab.core.backprop.forward``` into ```forward```;
- a ``.. math::`` directive into its indented block, or its one line indented (shown as a
  code block);
- a paragraph ending in ``::`` (a literal block follows) into one ending in ``:``.

Grouped numpydoc parameters, ``b1, b2, eps : float``, become one entry per name (griffe
would show the first name's default for all of them).

It also reads the docstrings that a module sets at run time, ``xavier.__doc__ = "..."`` (the
initializers are made by a factory), which static analysis would otherwise miss.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj):`(~?)([^`]+)`")
MATH = re.compile(r"(?m)^([ \t]*)\.\. math::[ \t]*$")
MATH_INLINE = re.compile(r"(?m)^([ \t]*)\.\. math:: +(\S.*)$")
LITERAL = re.compile(r"(?m)(\S)::$")


def _role(m: re.Match) -> str:
    target = m.group(2)
    return f"`{target.rsplit('.', 1)[-1]}`" if m.group(1) else f"`{target}`"


GROUP = re.compile(r"^(\s*)(\w+(?:, \w+)+) : (.*)$")


def split_groups(text: str) -> str:
    """``a, b : float, default=1, 2`` and its description, as one entry per name."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        m = GROUP.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent, names, kind = m.group(1), m.group(2).split(", "), m.group(3)
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith(indent + " ")):
            if not lines[j].strip() and (
                j + 1 >= len(lines) or not lines[j + 1].startswith(indent + " ")
            ):
                break
            j += 1
        kind_part, _, defaults = kind.partition(", default=")
        values = [v.strip() for v in defaults.split(",")] if defaults else []
        for k, name in enumerate(names):
            default = f", default={values[k]}" if len(values) == len(names) else ""
            out.append(f"{indent}{name} : {kind_part if values else kind}{default}")
            out.extend(lines[i + 1 : j])
        i = j
    return "\n".join(out)


def to_markdown(text: str) -> str:
    """The docstring ``text`` with Sphinx roles and directives in Markdown."""
    text = split_groups(text)
    text = ROLE.sub(_role, text)
    text = MATH.sub("", text)
    text = MATH_INLINE.sub(lambda m: f"{m.group(1)}\n{m.group(1)}    {m.group(2)}", text)
    return LITERAL.sub(r"\1:", text)


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring once it is loaded (the source files are not touched)."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)

    def on_module_members(self, *, node: Any, mod: Any, **kwargs: Any) -> None:
        if not isinstance(node, ast.Module):
            return
        for stmt in node.body:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
                continue
            target, value = stmt.targets[0], stmt.value
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "__doc__"
                and isinstance(target.value, ast.Name)
                and target.value.id in mod.members
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                member = mod.members[target.value.id]
                member.docstring = griffe.Docstring(
                    to_markdown(value.value), lineno=stmt.lineno, parent=member
                )
