"""The rules of the service. Imports neither Strawberry nor Starlette."""
