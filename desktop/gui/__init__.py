"""The Qt window. Thin: widgets over core results; all work runs on worker threads."""
