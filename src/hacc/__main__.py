import sys

from hacc.cli import main

sys.exit(main())
