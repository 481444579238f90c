"""PostgreSQL access of the service: connection pool, task data access, schema migrations."""
