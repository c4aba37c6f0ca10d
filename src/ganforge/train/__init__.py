"""Training: the games (games/: one GAN update each), the run around them (loop.py), checkpoints and EMA."""
