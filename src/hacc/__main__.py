from hacc.cli.main import entry

entry()
