"""Sphinx directive ``momentum-verify-cli``: the CLI reference, generated from the argparse parsers.

``.. momentum-verify-cli:: rate`` renders one subcommand (usage, description, every option with its
metavar, default and help text); without an argument it renders every subcommand. The text comes from
:func:`momentum_verify.verify.cli.build_parser` at build time, so the reference cannot drift from the code.
Help strings are shown as plain text (never parsed as reStructuredText), so no help string can break
the build.
"""
from __future__ import annotations

import argparse

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps subparsers here; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _option_label(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest
    names = ", ".join(action.option_strings)
    if action.nargs == 0:
        return names
    metavar = action.metavar or action.dest.upper()
    if isinstance(metavar, tuple):
        metavar = " ".join(metavar)
    return f"{names} {metavar}"


def _help_text(action: argparse.Action, parser: argparse.ArgumentParser) -> str:
    text = action.help or ""
    if "%" in text:  # expand %(default)s and friends as argparse --help does
        text = parser._get_formatter()._expand_help(action)
    elif action.default not in (None, False, argparse.SUPPRESS) and action.nargs != 0 and text:
        text += f" (default: {action.default})"
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        text += " [choices: " + ", ".join(str(c) for c in action.choices) + "]"
    return text


def command_nodes(name: str, parser: argparse.ArgumentParser, document) -> list[nodes.Node]:
    section_id = f"cli-{name}"
    section = nodes.section(ids=[section_id], names=[section_id])
    section += nodes.title(text=f"Options of momentum-verify {name}")
    usage = parser.format_usage().strip()
    if usage.startswith("usage: "):
        usage = usage[len("usage: "):]
    section += nodes.literal_block(usage, usage, language="text")
    if parser.description:
        section += nodes.paragraph(text=parser.description)
    items = nodes.definition_list()
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        term = nodes.term()
        term += nodes.literal(text=_option_label(action))
        definition = nodes.definition()
        definition += nodes.paragraph(text=_help_text(action, parser) or "(no help text)")
        item = nodes.definition_list_item()
        item += term
        item += definition
        items += item
    section += items
    document.note_explicit_target(section)
    return [section]


class CliReference(SphinxDirective):
    optional_arguments = 1
    has_content = False
    option_spec = {"no-title": directives.flag}

    def run(self):
        from momentum_verify.verify.cli import build_parser

        parser = build_parser()
        subs = _subparsers(parser)
        wanted = [self.arguments[0]] if self.arguments else list(subs)
        out: list[nodes.Node] = []
        for name in wanted:
            if name not in subs:
                raise self.error(f"momentum-verify has no command {name!r} (has: {', '.join(subs)})")
            out.extend(command_nodes(name, subs[name], self.state.document))
        return out


def setup(app):
    app.add_directive("momentum-verify-cli", CliReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
