"""``python -m radiomark``: the command line (what torchrun starts for distributed training)."""

from radiomark.cli import app

app(prog_name="radiomark")
