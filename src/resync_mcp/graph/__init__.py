"""The plan as a dependency graph: impact of a failure, its root cause, and deadline risk."""
