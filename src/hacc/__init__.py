"""hacc, the HA cluster compiler for MicroK8s."""

__version__ = "0.1.0"
