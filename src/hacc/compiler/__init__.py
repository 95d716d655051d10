"""The spec pipeline: load -> validate -> check -> model."""
