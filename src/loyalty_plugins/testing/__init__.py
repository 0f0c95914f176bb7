"""Test helpers for loyalty_plugins: platform emulators and pytest fixtures."""
