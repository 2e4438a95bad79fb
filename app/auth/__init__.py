"""Credentials: JSON Web Tokens, session tokens, principals and scopes."""
