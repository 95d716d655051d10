"""Artifact targets: each a pure function from the cluster model to files."""
