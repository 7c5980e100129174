"""Shared knowledge that several rules query: names, torch API, modules, gradient state."""
