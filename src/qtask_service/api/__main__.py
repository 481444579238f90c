"""`python -m qtask_service.api`."""

from qtask_service.api.server import main

main()
