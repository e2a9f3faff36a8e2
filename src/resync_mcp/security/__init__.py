"""Who may do what: the policy decision (pure) and the tool catalog it reads."""
