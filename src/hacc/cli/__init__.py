"""The command line: parsing, dispatch to one command module, completion."""
