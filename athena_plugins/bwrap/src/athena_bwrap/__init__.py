"""Athena's bubblewrap executor plugin."""
