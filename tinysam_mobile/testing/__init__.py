"""Test doubles shipped for the SDK's users and its own tests (synthetic scenes, an oracle runtime)."""
