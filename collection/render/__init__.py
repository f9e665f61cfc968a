"""The render driver: build state, executors, progress and the files each token writes."""
