import sys

from servidor.cli import main

sys.exit(main())
