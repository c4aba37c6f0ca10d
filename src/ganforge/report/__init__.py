"""Plots (plots.py); later the HTML report."""
