"""Protecting the HWA engine: circuit breaker, read-only retries, bulkheads."""
