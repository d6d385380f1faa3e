"""Region tools of the window: draw, edit and delete annotated, ignore, ROI and stated-count regions."""
