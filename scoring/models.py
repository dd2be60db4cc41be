"""Scoring tables arrive with the serving issue."""
