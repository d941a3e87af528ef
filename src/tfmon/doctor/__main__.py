import sys

from tfmon.doctor.cli import main

sys.exit(main())
