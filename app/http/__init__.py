"""HTTP edge: request ids, limits, headers, idempotent retries, GraphiQL assets."""
