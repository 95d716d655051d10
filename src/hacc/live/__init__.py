"""Talking to a running cluster: probes, served certificates and kubeconfigs."""
