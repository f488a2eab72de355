"""Frame sources and sinks: PyAV video, image files and folders, and the prefetch thread helper."""
