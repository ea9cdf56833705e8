"""regauto.cli.commands."""
