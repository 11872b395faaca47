"""CelebA's extracted layout, read by ganzoo: which aligned face images make up a split.

torchvision's ``CelebA`` accepts a copy only when the md5 of each of its five annotation files
matches (``_check_integrity``), so it refuses copies that are complete but were re-saved, a
subset, or a test's synthetic files, and says only "not found or corrupted". ganzoo therefore
uses torchvision's class only to download (and for its folder name), and reads the layout
itself, checking what training needs::

    ROOT/celeba/img_align_celeba/000001.jpg ...   the extracted img_align_celeba.zip
    ROOT/celeba/list_eval_partition.txt           "000001.jpg 0" per image: 0 train, 1 valid, 2 test
    ROOT/celeba/list_attr_celeba.txt              the count, 40 attribute names, one row per image

CelebA has no single class label (40 binary attributes), so it is an unconditional dataset.
"""

from __future__ import annotations

from pathlib import Path

from ganzoo.errors import DataError
from ganzoo.io.inputs import MiB, read_input_text

CELEBA_FOLDER = "celeba"
IMAGES_FOLDER = "img_align_celeba"
PARTITION_FILE = "list_eval_partition.txt"
ATTRIBUTES_FILE = "list_attr_celeba.txt"
SPLIT_CODES = {"train": 0, "valid": 1, "test": 2}
LIST_MAX_BYTES = 256 * MiB
"""The real attribute file is 26 MB."""
REEXTRACT = "copy the files from the CelebA download again (or add --download)"


def celeba_layout(root: Path) -> str:
    """The layout, as the error messages name it."""
    folder = root / CELEBA_FOLDER
    return f"{folder / IMAGES_FOLDER}/*.jpg, {folder / PARTITION_FILE} and {folder / ATTRIBUTES_FILE}"


def celeba_present(root: Path) -> bool:
    folder = root / CELEBA_FOLDER
    return (folder / IMAGES_FOLDER).is_dir() and (folder / PARTITION_FILE).exists() \
        and (folder / ATTRIBUTES_FILE).exists()


def celeba_split_files(root: Path, split: str) -> list[Path]:
    """The image files of ``split``, in the partition file's order, each checked to exist."""
    folder = root / CELEBA_FOLDER
    partition = read_partition(folder / PARTITION_FILE)
    count = attribute_count(folder / ATTRIBUTES_FILE)
    if count != len(partition):
        raise DataError(f"{str(folder / ATTRIBUTES_FILE)!r} describes {count:,} images, {PARTITION_FILE} "
                        f"lists {len(partition):,}; the two files are from different copies, {REEXTRACT}")
    names = [name for name, code in partition if code == SPLIT_CODES[split]]
    if not names:
        raise DataError(f"{str(folder / PARTITION_FILE)!r} assigns no image to the {split!r} split; {REEXTRACT}")
    paths = [folder / IMAGES_FOLDER / name for name in names]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise DataError(f"{len(missing):,} of the {len(paths):,} {split} images listed in {PARTITION_FILE} are "
                        f"missing (first: {str(missing[0])!r}); extract all of img_align_celeba.zip into "
                        f"{folder / IMAGES_FOLDER}")
    return paths


def read_partition(path: Path) -> list[tuple[str, int]]:
    """``list_eval_partition.txt``: (image name, split code) per line."""
    text = read_input_text(path, "CelebA partition file", max_bytes=LIST_MAX_BYTES, error=DataError, fix=REEXTRACT)
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DataError(f"{str(path)!r} line {number} is {line.strip()[:60]!r}, not 'IMAGE.jpg 0|1|2'; "
                            f"{REEXTRACT}")
        entries.append((fields[0], int(fields[1])))
    return entries


def attribute_count(path: Path) -> int:
    """The image count ``list_attr_celeba.txt`` declares, checked against its rows."""
    text = read_input_text(path, "CelebA attribute file", max_bytes=LIST_MAX_BYTES, error=DataError, fix=REEXTRACT)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise DataError(f"{str(path)!r} does not start with CelebA's image count and attribute names; {REEXTRACT}")
    declared, rows = int(lines[0]), len(lines) - 2
    if declared != rows:
        raise DataError(f"{str(path)!r} declares {declared:,} images and holds {rows:,} rows; it is truncated, "
                        f"{REEXTRACT}")
    return declared
