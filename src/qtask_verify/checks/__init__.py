"""What judges a deployment: waiting with timelines, diagnoses, known-answer circuits, outages."""
