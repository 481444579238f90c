"""The worker: consumes task messages, runs the circuits, records results."""
