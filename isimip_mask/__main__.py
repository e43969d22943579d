import sys

from isimip_mask.cli import main

sys.exit(main())
