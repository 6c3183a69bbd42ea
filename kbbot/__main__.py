import sys

from kbbot.cli import main

sys.exit(main())
