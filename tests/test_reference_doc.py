"""docs/reference.md lists every option of every command, with the default `vidcolor COMMAND -h` gives,
and no option that the command does not take (README, "CLI reference": the file "gives every option's full
behaviour ... and the options of the other commands")."""
import re
from pathlib import Path

import pytest
import typer

from vidcolor import cli

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference.md"
COMMANDS = typer.main.get_command(cli.app).commands
SHARED = {"--model", "--weights", "--device", "--work-size", "--upsample", "--batch-size", "--temporal", "--codec",
          "--crf", "--preset"}  # colorize's, documented once in its table (the reference says so)


def _tables(text=None):
    """{command: {option: default cell}} from the reference's two option tables (or README's one, colorize's)."""
    text = (text or REFERENCE.read_text()).split("## Exit codes")[0]
    tables, current = {name: {} for name in COMMANDS}, None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").replace("\\|", "/").split("|")] if line.startswith("|") else []
        if len(cells) == 3 and cells[0].startswith("`-"):
            current, opt_cell, default = "colorize", cells[0], cells[1]
        elif len(cells) == 4 and cells[1].startswith("`-"):
            current = cells[0].strip("`") or current
            opt_cell, default = cells[1], cells[2]
        else:
            continue
        opts = re.findall(r"--[a-z][a-z0-9-]*", opt_cell)
        defaults = [d.strip() for d in default.split(",")] if len(opts) > 1 and default.count(",") == len(opts) - 1 else [default] * len(opts)
        tables[current].update(zip(opts, defaults))
    return tables


def _options(command):
    return [p for p in command.params if p.param_type_name == "option"]


def _shown(default):
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(getattr(default, "value", default))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_of_the_command_is_in_the_reference_with_its_default(name):
    tables = _tables()
    for param in _options(COMMANDS[name]):
        if param.opts == ["-h"] or "--help" in param.opts:
            continue
        long = next(o for o in param.opts if o.startswith("--"))
        table = tables["colorize"] if long in SHARED and long not in tables[name] else tables[name]
        assert long in table, f"{name} {long} is not in docs/reference.md"
        if param.is_flag or param.default is None:
            continue
        assert _shown(param.default) in table[long], f"{name} {long}: default {param.default!r}, reference says {table[long]!r}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_reference_lists_no_option_the_command_does_not_take(name):
    taken = {o for p in COMMANDS[name].params for o in p.opts + p.secondary_opts}
    assert set(_tables()[name]) <= taken


def test_readmes_cli_table_gives_colorizes_options_with_the_references_defaults():
    readme = _tables((ROOT / "README.md").read_text().split("### CLI reference")[1])["colorize"]
    reference = _tables()["colorize"]
    assert set(readme) == set(reference)
    for param in _options(COMMANDS["colorize"]):
        long = next((o for o in param.opts if o.startswith("--")), None)
        if long and long != "--help" and not param.is_flag and param.default is not None:
            assert _shown(param.default) in readme[long], f"README: {long} default {param.default!r}, says {readme[long]!r}"
