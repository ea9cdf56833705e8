"""regauto.generators."""
