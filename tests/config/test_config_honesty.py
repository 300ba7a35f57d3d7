"""Every key of config/app.yaml is read by the code (a key nobody reads promises what nothing does).

A leaf key `a.b.c` counts as read when some module of the platform reads `b.c` as attributes
(`settings.a.b.c`, or `b = settings.a.b` then `b.c`), or as subscripts (`values["b"]["c"]`, as
config.settings checks them), or names it whole as a string (`"a.b.c"`: the run-time settings,
config/runtime.py, and the default alert rules' config keys). READ_OTHERWISE lists the few read another
way, with where.
"""
from __future__ import annotations

import ast
from pathlib import Path

import yaml

from config.settings import DEFAULTS_FILE

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "config", "jobs", "models", "policy", "scheduler", "workers")
READ_OTHERWISE = {
    "security.jwt_secret": "config.secrets.secret(settings, name) reads security[name]",
    "security.encryption_key": "config.secrets.secret(settings, name) reads security[name]",
}


def leaf_keys(values: dict, prefix: tuple = ()) -> list[tuple[str, ...]]:
    keys = []
    for name, value in values.items():
        keys += leaf_keys(value, prefix + (name,)) if isinstance(value, dict) else [prefix + (name,)]
    return keys


def section_name(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The name of the section `node` reads: `x.tools` -> tools, `v["tools"]` -> tools, and a variable
    bound to one (`tools_cfg = settings.mcp.tools`) -> tools."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value)
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    return None


def reads_in(tree: ast.AST) -> tuple[set[tuple[str, str]], set[str]]:
    """(every (section, name) read as attributes or string subscripts, every dotted string constant)."""
    aliases = {node.targets[0].id: section_name(node.value, {}) for node in ast.walk(tree)
               if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
               and isinstance(node.value, (ast.Attribute, ast.Subscript))}
    pairs, strings = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            pairs.add((section_name(node.value, aliases), node.attr))
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            pairs.add((section_name(node.value, aliases), str(node.slice.value)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value:
            strings.add(node.value)
    return pairs, strings


def code_reads() -> tuple[set[tuple[str, str]], set[str]]:
    pairs, strings = set(), set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found_pairs, found_strings = reads_in(ast.parse(path.read_text(), str(path)))
            pairs |= found_pairs
            strings |= found_strings
    return pairs, strings


def is_read(key: tuple[str, ...], pairs: set, strings: set) -> bool:
    dotted = ".".join(key)
    parent = key[-2] if len(key) > 1 else "settings"
    return (parent, key[-1]) in pairs or dotted in strings or dotted in READ_OTHERWISE


def test_given_app_yaml_then_every_key_is_read_by_the_code():
    # Given every leaf key of app.yaml, and what the platform's modules read
    keys = leaf_keys(yaml.safe_load(DEFAULTS_FILE.read_text()))
    pairs, strings = code_reads()

    # When each key is looked for
    unread = [".".join(key) for key in keys if not is_read(key, pairs, strings)]

    # Then none is left unread
    assert len(keys) > 50
    assert unread == [], f"keys of config/app.yaml no code reads: {unread}"


def test_given_a_key_nobody_reads_then_the_walk_finds_it(tmp_path):
    # Given a YAML with a key the code does not read
    keys = leaf_keys({"monitoring": {"cpu_alert_percent": 80, "unheard_of_percent": 1}})
    pairs, strings = code_reads()

    # Then it is reported, and the one read is not
    assert [".".join(k) for k in keys if not is_read(k, pairs, strings)] == ["monitoring.unheard_of_percent"]
