"""Classes of objects in the annotation window (issue #16): palette, active class, relabelling."""
