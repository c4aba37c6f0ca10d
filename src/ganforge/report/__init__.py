"""Plots (plots.py) and the HTML report (html.py: write_report; figures.py draws its timelines).
The run log itself (reading metrics.jsonl, the rollback rule) is ganforge.runlog."""
