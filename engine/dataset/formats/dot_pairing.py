"""Which dots image goes with which photo: by the usual names, or by a pattern the user gives.

Usual names (:func:`pair_by_suffix`): a dots image's name ends in ``dots`` (``001dots.png``, ``a_dots.png``) or
in ``gt``, ``centers`` or ``centres`` after a separator (``Bees_gt.png``, ``plant001_centers.png``), or it lies
in a dots folder beside the images (``dots/``, ``gt/``, ``centers/``: there every image is a dots image, with
or without such an ending). A photo pairs with the dots image of the same prefix, the photo's name minus a
trailing ``cell``, ``cells``, ``image``, ``img`` or ``rgb``: ``001cell.png`` + ``001dots.png``,
``plant001_rgb.png`` + ``plant001_centers.png``, ``images/Bees.png`` + ``dots/Bees_gt.png``. Separators
``_ - .`` and spaces between are allowed. Other files of a paired prefix (``plant001_label.png``,
``plant001_fg.png``) are masks of the same plant, not photos: they are skipped and reported.

A pattern (:func:`pair_by_pattern`, ``--dots "{stem}_centers.png"``) names each photo's dots image: ``{stem}``
is the photo's name without extension, ``{prefix}`` the same minus the trailing words above. It is looked for
beside the photo, then from the source folder (``dots/{stem}_gt.png``).
"""

from __future__ import annotations

from pathlib import Path

from engine.dataset.formats.common import Discovery, Reader, SourceItem, existing_folders, find_images
from engine.dataset.images import is_image_file
from engine.dataset.store import natural_key

DOTS_WORDS = ("dots", "centers", "centres", "gt")
PHOTO_WORDS = ("cells", "cell", "image", "img", "rgb")
DOTS_FOLDERS = ("dots", "Dots", "dot", "gt", "GT", "centers", "centres")
SEPARATORS = "_-. "


def _strip_word(stem: str, words: tuple[str, ...], need_separator: bool) -> str | None:
    """``stem`` (lower case) without its trailing word and separators, or None when it ends in none."""
    stem = stem.lower()
    for word in words:
        if stem.endswith(word):
            rest = stem[: len(stem) - len(word)]
            if rest and (rest[-1] in SEPARATORS or not need_separator or word == "dots"):
                return rest.rstrip(SEPARATORS)
    return None


def dots_key(path: Path, in_dots_folder: bool = False) -> str | None:
    """The prefix a dots image pairs by, or None when ``path`` is not named as a dots image."""
    key = _strip_word(path.stem, DOTS_WORDS, need_separator=True)
    if key is None and in_dots_folder:
        return path.stem.lower()
    return key


def photo_key(stem: str) -> str:
    return _strip_word(stem, PHOTO_WORDS, need_separator=False) or stem.lower()


def pair_by_suffix(src: Path, reader: Reader) -> Discovery:
    """Pair photos with dots images by their usual names (see the module's docstring)."""
    dots: dict[str, list[Path]] = {}
    for path in find_images(src):
        key = dots_key(path)
        if key is not None:
            dots.setdefault(key, []).append(path)
    for folder in existing_folders(src, DOTS_FOLDERS):
        for path in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
            if path.is_file() and not path.name.startswith(".") and is_image_file(path):
                dots.setdefault(dots_key(path, in_dots_folder=True), []).append(path)
    photos = [path for path in find_images(src) if dots_key(path) is None]
    photo_keys: dict[str, list[Path]] = {}
    for path in photos:
        photo_keys.setdefault(photo_key(path.stem), []).append(path)
    discovery, used = Discovery(), set()
    for photo in photos:
        key = photo_key(photo.stem)
        match = dots.get(key, [])
        if len(photo_keys[key]) == 1 and len(match) == 1:
            discovery.items.append(SourceItem(photo, match[0], reader))
            used.add(key)
    paired_with_word = {photo_key(item.image.stem) for item in discovery.items
                        if photo_key(item.image.stem) != item.image.stem.lower()}
    for photo in photos:
        key = photo_key(photo.stem)
        if key in used:
            continue
        owner = _companion_of(photo.stem.lower(), paired_with_word)
        if owner is not None:
            discovery.skipped.append((photo, f"another file of {owner} (its photo and dots are paired)"))
        else:
            discovery.items.append(SourceItem(photo))
    for key, paths in dots.items():
        if key in used:
            continue
        for path in paths:
            if len(paths) > 1 or len(photo_keys.get(key, [])) > 1:
                reason = "more than one photo or dots file share its name; rename them"
            else:
                reason = "no matching photo found"
            discovery.skipped.append((path, reason))
    order = {path: index for index, path in enumerate(photos)}
    discovery.items.sort(key=lambda item: order[item.image])
    return discovery


def _companion_of(stem: str, paired: set[str]) -> str | None:
    for key in paired:
        if len(stem) > len(key) and stem.startswith(key) and stem[len(key)] in SEPARATORS:
            return key
    return None


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot name dots images, or None."""
    if "{stem}" not in pattern and "{prefix}" not in pattern:
        return f"the dots pattern {pattern!r} must contain {{stem}} or {{prefix}}, e.g. '{{stem}}_centers.png'"
    try:
        pattern.format(stem="a", prefix="a")
    except (KeyError, IndexError, ValueError):
        return f"the dots pattern {pattern!r} may only use {{stem}} and {{prefix}}"
    return None


def pair_by_pattern(src: Path, pattern: str, reader: Reader) -> Discovery:
    """Pair each photo with the dots image ``pattern`` names (see the module's docstring)."""
    images = find_images(src)

    def target(photo: Path) -> Path | None:
        name = pattern.format(stem=photo.stem, prefix=photo_key(photo.stem))
        for folder in (photo.parent, src):
            candidate = folder / name
            if candidate.is_file() and candidate != photo:
                return candidate
        return None

    targets = {image: target(image) for image in images}
    named = {path.resolve() for path in targets.values() if path is not None}
    discovery = Discovery()
    for image in images:
        if image.resolve() in named:
            continue  # a dots image of another photo
        dots = targets[image]
        discovery.items.append(SourceItem(image, dots, reader) if dots else SourceItem(image))
    return discovery
