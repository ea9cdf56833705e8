"""regauto.gitint."""
