"""Control actions with operator-grade safety: policy, live preconditions, preview, human
confirmation, justification, exactly-once sends, read-back and cache invalidation."""
