"""Latent 3D scenes: per-scene tri-planes, the shared tiny MLP, and the volume renderer at latent resolution."""
