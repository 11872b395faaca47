"""Files in and out: atomic writes, checked reads of user files, PNG images, and the data-only
state format of checkpoints.
"""
