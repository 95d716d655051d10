"""The output stage: compile units, reuse, the state file, plans, writes, Git and the secret guard."""
