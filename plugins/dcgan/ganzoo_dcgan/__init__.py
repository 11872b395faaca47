"""The DCGAN of Radford et al. (2015) as a ganzoo plugin."""
