"""Cache hierarchy for HWA reads: pure policy, bounded L1, the cache stage."""
