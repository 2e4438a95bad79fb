"""Query limits: depth, tokens, aliases, cost; validation rules built once so caches hit."""
