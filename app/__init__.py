"""Profile Gateway: a self-hostable GraphQL service for end-user profiles."""
