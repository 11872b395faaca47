"""Every dataset: images held in memory as uint8 or streamed from files, the named datasets and
their on-disk formats (IDX, CIFAR batches, CelebA, image folders), the memory budget and the cache
of decoded images.
"""
