from hacc.cli import entry

entry()
