"""The audit chain: every tool call recorded, encrypted, hash-chained, checkpointed and signed."""
