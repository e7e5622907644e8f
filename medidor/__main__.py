import sys

from medidor.cli import main

sys.exit(main())
