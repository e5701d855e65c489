"""The central hub: enrolment, ingest, checkpoint, roster and readers, on SQLite or PostgreSQL."""
