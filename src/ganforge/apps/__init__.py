"""Applications: what a trained run is used for (synthetic datasets, inversion, editing, export,
model cards, measuring samples).

They read a run through the API's loaded generator (``ganforge.api``) and write their outputs
with provenance (``ganforge.files``); nothing here imports the API itself (the API calls them).
"""
