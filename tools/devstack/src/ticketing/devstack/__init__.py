"""``make dev``: the whole platform on one machine, no Docker, no Kubernetes."""
