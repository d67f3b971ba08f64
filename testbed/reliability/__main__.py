import sys

from testbed.reliability import main

sys.exit(main())
