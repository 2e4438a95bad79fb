"""GraphQL object types, named as in the schema."""
