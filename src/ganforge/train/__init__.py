"""Training: one GAN update (step.py), the run around it (loop.py), checkpoints and EMA."""
