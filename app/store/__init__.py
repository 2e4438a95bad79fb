"""Data access: the MongoDB client, collections, indexes, transactions and the embedded server."""
