"""A denoising diffusion baseline (DDPM trained, DDIM or DDPM sampled) as a ganzoo plugin."""
