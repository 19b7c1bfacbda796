"""Task adapters (installed as `maskdiff.tasks`): data, conditioning and metrics per task."""
