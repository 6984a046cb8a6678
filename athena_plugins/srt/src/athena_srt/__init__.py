"""Athena's Sandbox Runtime (srt) executor plugin."""
