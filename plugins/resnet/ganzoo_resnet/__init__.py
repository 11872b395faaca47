"""ResNet GANs, SNGAN, the projection discriminator and ACGAN (Gulrajani et al. 2017; Miyato et al.
2018; Miyato & Koyama 2018; Odena et al. 2017) as a ganzoo plugin."""
