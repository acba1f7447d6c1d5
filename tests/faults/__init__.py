"""The fault suite (`make test-faults`): make dev with two replicas, hurt for real."""
