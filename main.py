"""Start CrowdGUI: ``python main.py [FOLDER]``."""

import sys

from crowdgui.app import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
