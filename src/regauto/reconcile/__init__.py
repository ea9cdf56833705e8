"""regauto.reconcile."""
