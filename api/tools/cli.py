"""`flask --app api.wsgi tools import FILE [--replace]` and `tools export [--include-secrets]`: the
`mcpServers` JSON of Claude Desktop and Cursor, from and to the tool registry."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from api.tools import mcpservers
from models import Tool

tools_cli = AppGroup("tools", help="Tool registry (mcpServers JSON import/export).")


@tools_cli.command("import")
@click.argument("source", type=click.File("r"))
@click.option("--replace", is_flag=True, help="Overwrite tools that have the same name.")
def import_command(source, replace: bool) -> None:
    """Register the servers of an mcpServers JSON file ('-' for stdin)."""
    try:
        document = json.load(source)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"not JSON: {error}") from None
    try:
        definitions = mcpservers.parse_document(document)
    except ValidationError as error:
        raise click.ClickException(f"the mcpServers document is not valid: {json.dumps(error.messages)}") from None
    report = mcpservers.import_tools(definitions, replace, created_by=None)
    for outcome in ("created", "updated", "skipped"):
        if report[outcome]:
            click.echo(f"{outcome}: {', '.join(report[outcome])}")


@tools_cli.command("export")
@click.option("--include-secrets", is_flag=True, help="Write env values and headers in clear.")
def export_command(include_secrets: bool) -> None:
    """Print every tool as an mcpServers JSON document."""
    document = mcpservers.export_tools(Tool.select().order_by(Tool.name), include_secrets)
    click.echo(json.dumps(document, indent=2))
