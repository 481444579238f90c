"""What touches the deployment: the preflight, the controller, interventions, the cleanup ledger."""
