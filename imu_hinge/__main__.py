import sys

from imu_hinge.cli import main

sys.exit(main())
