"""regauto.registry."""
