"""Strategies: pure objects that turn book views into signals (what they want, never orders)."""
