"""CrowdGUI's engine: everything that is not a screen.

The dataset on disk, density maps, models, training, counting and metrics, plus the command line
``python -m engine ...``. This package never imports Qt or ``crowdgui``; the parts needed while annotating
(``engine.dataset``, ``engine.density``) do not import torch either, so the window opens fast.
"""

__version__ = "0.1.0"
