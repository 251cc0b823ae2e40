"""Behaviour the task packages share, composed into them (functions and small helpers, no task of its own)."""
