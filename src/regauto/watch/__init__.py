"""regauto.watch."""
