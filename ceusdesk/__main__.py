import sys

from ceusdesk.cli import main

sys.exit(main())
