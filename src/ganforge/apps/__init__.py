"""Applications: what a trained run is used for (export, model card, measuring samples).

They read a run through the API's loaded generator (``ganforge.api``) and write their outputs
with provenance; nothing here imports the API itself (the API calls them).
"""
