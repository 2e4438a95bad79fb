"""``profile-gateway import``: users from NDJSON or CSV files, through the bulk upsert path."""
