"""Class-conditional GANs (Mirza & Osindero 2014; Miyato & Koyama 2018) as a ganzoo plugin."""
