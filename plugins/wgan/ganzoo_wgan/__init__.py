"""Wasserstein GANs (Arjovsky et al. 2017; Gulrajani et al. 2017) as a ganzoo plugin."""
