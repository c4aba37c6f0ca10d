"""Scatter plots (plots.py) and the HTML report (html.py: write_report; figures.py draws its
timelines, templates/report.html.j2 is its markup). The run log itself is ganforge.runlog."""
