import sys

from demo.suite import main

sys.exit(main())
