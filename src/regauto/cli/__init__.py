"""regauto.cli."""
