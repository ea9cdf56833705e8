"""regauto.automation."""
