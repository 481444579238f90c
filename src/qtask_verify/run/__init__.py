"""One run: the record of what was verified (``run.json``) and the verdict it earns."""
