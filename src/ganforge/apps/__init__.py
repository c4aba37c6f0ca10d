"""Applications: what a trained run is used for. Each reads a run through the API and writes
its outputs with provenance (``ganforge.io``)."""
