"""Plots (plots.py) and the HTML report (html.py: write_report; history.py, figures.py)."""
