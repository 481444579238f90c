"""`python -m qtask_service.worker`."""

from qtask_service.worker.main import main

main()
