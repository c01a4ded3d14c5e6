"""Sub-commands that live in their own modules, registered into the main CLI."""

from __future__ import annotations

import importlib

import click

# (module, attribute) of each command object; a module that is not there yet is skipped.
_COMMANDS = (
    ("meterwatch.commands.score_series", "score_series"),
    ("meterwatch.commands.sample", "sample"),
    ("meterwatch.commands.demo", "demo"),
    ("meterwatch.commands.analyze", "analyze"),
    ("meterwatch.commands.simulate", "simulate"),
    ("meterwatch.commands.registry", "registry"),
    ("meterwatch.commands.lots", "lots"),
    ("meterwatch.commands.inspect", "inspect_group"),
    ("meterwatch.commands.verdict", "verdict"),
    ("meterwatch.commands.audit", "audit"),
    ("meterwatch.commands.rollup", "rollup"),
    ("meterwatch.commands.retention", "retention"),
)


def registered_commands() -> list[click.Command]:
    commands = []
    for module_name, attribute in _COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        commands.append(getattr(module, attribute))
    return commands
