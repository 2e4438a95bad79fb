"""The GraphQL API: types, inputs, resolvers. Resolvers parse, call the domain, shape payloads."""
