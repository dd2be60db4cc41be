"""Explainability tables arrive with the SHAP issue."""
