"""The event infrastructure (seed phase 2): work queue, locks, stability, suppression."""
