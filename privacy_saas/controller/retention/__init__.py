"""Retention rules of the controller scope and the sweep that applies them."""
