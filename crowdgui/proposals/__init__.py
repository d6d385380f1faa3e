"""Model-proposed points to correct: "Propose Points", accept, discard, delete one; proposals for all images.

    from crowdgui.proposals import install
    proposals = install(main_window)   # the Proposals menu, toolbar buttons, status-bar busy indicator
"""

from crowdgui.proposals.controller import ProposalsController, install

__all__ = ["ProposalsController", "install"]
