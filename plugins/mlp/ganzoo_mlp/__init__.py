"""The vanilla MLP GAN as a ganzoo plugin."""
