"""Characters: a named set of reference images (with an optional description and voice), kept by
the studio so the same person or mascot can appear across shots and providers.

Stored as files, one folder per character: `<settings.characters_dir>/<user or "_">/<name>/` with
`character.json` (name, description, voice, image file names, created_at) and the images COPIED
in, so moving or deleting the originals never breaks a character. Each user of a shared service
has their own folder and sees only their own characters. The folder is an allowed input root
(`security.allowed_roots`), because a job's spec names the copies as reference images and the
adapter vets them again when it sends the create.

`cast_onto` maps characters onto one model's own reference mechanism: their images go in the
`options` key the provider's facts name (after any the caller gave, without repeats), their
description (and voice, for models that make sound) into the prompt. A model that takes no
references, or fewer than the images given, is refused before anything is planned or paid.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidRequest, UnsupportedParameter
from reelforge.security import IMAGE_TYPES, check_local_path
from reelforge.studio.caller import current_user

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.settings import Settings
    from reelforge.studio.core import Studio
    from reelforge.studio.tool_schemas import GenerationOptions

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
#: Images one character keeps; more than any model here takes in one request (Seedance: 9).
MAX_IMAGES = 9
#: Per image: reference images travel inline to most providers, whose own limits are lower still.
IMAGE_MAX_BYTES = 10 * 1024 * 1024
_SAFE_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HINT = "Save one with save_character (or `reelforge characters add NAME IMAGE...`)."


@dataclass(frozen=True)
class Character:
    name: str
    description: str
    voice: str | None
    images: tuple[Path, ...]
    created_at: str

    def view(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "voice": self.voice,
                "images": [str(p) for p in self.images], "created_at": self.created_at,
                "uri": f"reelforge://characters/{self.name}"}


def user_folder(settings: Settings, user: str | None) -> Path:
    """The caller's own characters; a user name that is not a plain file name is hashed."""
    if user is None:
        return settings.characters_dir / "_"
    safe = user if _SAFE_USER.match(user) else "u-" + hashlib.sha256(user.encode()).hexdigest()[:24]
    return settings.characters_dir / safe


def check_name(name: str, param: str = "name") -> str:
    if not NAME.match(name):
        raise InvalidRequest(f"'{name[:60]}' is not a character name.", param=param,
                             hint="Use 1-40 lowercase letters, digits, '_' or '-', starting with a letter or digit.")
    return name


def save(studio: Studio, name: str, images: list[str | dict[str, Any]], description: str = "",
         voice: str | None = None) -> Character:
    """Create (or replace) a character from local images and finished jobs' outputs, copying each in.

    An image is an absolute path inside the allowed folders, or `{"job_id": ..., "at_s": ...}`: that
    job's frame at `at_s`, else its last frame when it kept one (`outputs.last_frame`), else its poster.
    """
    check_name(name)
    for param, text, most in (("description", description, 500), ("voice", voice or "", 200)):
        if len(text) > most:
            raise InvalidRequest(f"{param} is {len(text)} characters; at most {most}.", param=param)
    if not images or len(images) > MAX_IMAGES:
        raise InvalidRequest(f"A character takes 1 to {MAX_IMAGES} images; {len(images)} given.", param="images")
    folder = user_folder(studio.settings, current_user())
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder))
    try:
        kept: list[str] = []
        for i, item in enumerate(images):
            source = _source(studio, item, f"images[{i}]", work)
            data = source.read_bytes()
            digest = hashlib.sha256(data).hexdigest()[:16]
            file_name = f"{digest}{source.suffix.lower()}"
            if file_name not in kept:  # the same picture twice adds nothing
                (work / file_name).write_bytes(data)
                kept.append(file_name)
            if source.parent == work and source.name != file_name:
                source.unlink()  # a frame drawn from a job, now kept under its content name
        record = {"name": name, "description": description.strip(), "voice": (voice or "").strip() or None,
                  "images": kept, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        (work / "character.json").write_text(json.dumps(record, indent=2))
        dest = folder / name
        if dest.exists():  # replaced as a whole: the old images go with it
            shutil.rmtree(dest)
        os.replace(work, dest)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return get(studio.settings, name)


def get(settings: Settings, name: str, param: str = "characters") -> Character:
    folder = user_folder(settings, current_user())
    record = folder / name / "character.json" if NAME.match(name) else None
    if record is None or not record.is_file():
        known = [c.name for c in list_all(settings)]
        listed = f"Known: {', '.join(known)}." if known else "No characters are saved yet."
        raise InvalidRequest(f"No character '{name[:60]}'. {listed}", param=param, hint=_HINT)
    raw = json.loads(record.read_text())
    return Character(name=raw["name"], description=raw.get("description") or "", voice=raw.get("voice"),
                     images=tuple(folder / name / f for f in raw["images"]), created_at=raw["created_at"])


def list_all(settings: Settings) -> list[Character]:
    folder = user_folder(settings, current_user())
    if not folder.is_dir():
        return []
    names = sorted(p.name for p in folder.iterdir() if NAME.match(p.name) and (p / "character.json").is_file())
    return [get(settings, n) for n in names]


def delete(settings: Settings, name: str) -> Character:
    character = get(settings, name, param="name")
    shutil.rmtree(user_folder(settings, current_user()) / name)
    return character


def _source(studio: Studio, item: str | dict[str, Any], param: str, work: Path) -> Path:
    """The file an image entry names, vetted: an allowed local image, or a frame of a finished job."""
    if isinstance(item, str):
        path = check_local_path(item, studio.settings, param=param)
    elif isinstance(item, dict) and isinstance(item.get("job_id"), str) and set(item) <= {"job_id", "at_s"}:
        path = _from_job(studio, item["job_id"], item.get("at_s"), param, work)
    else:
        raise InvalidRequest(f"{param} must be an image path or {{\"job_id\": ..., \"at_s\": ...}}.", param=param)
    if path.suffix.lower() not in IMAGE_TYPES:
        raise InvalidRequest(f"{param}: {path.name} is not a PNG, JPEG or WebP image.", param=param)
    if path.stat().st_size > IMAGE_MAX_BYTES:
        raise InvalidRequest(f"{param}: {path.name} is over {IMAGE_MAX_BYTES // 2**20} MB.", param=param,
                             hint="Pass a smaller image; video models take far less.")
    from reelforge.generation_spec import MediaRef
    from reelforge.providers.input_files import check_image_file

    check_image_file(MediaRef(kind="file", path=str(path), mime=IMAGE_TYPES[path.suffix.lower()]), param=param)
    return path


def _from_job(studio: Studio, job_id: str, at_s: Any, param: str, work: Path) -> Path:
    from reelforge.jobs.job import JobStatus
    from reelforge.studio.ownership import visible_job

    job = visible_job(studio, job_id, current_user())
    video = job.outputs.get("path")
    if job.status is not JobStatus.SUCCEEDED or not video:
        raise InvalidRequest(f"{param}: job {job.id} is {job.status.value}, not finished.", param=param,
                             hint=f"Wait with get_job('{job.id}', wait_seconds=40).")
    if at_s is not None:
        return _frame_at(Path(video), at_s, param, work)
    for key in ("last_frame", "poster_path"):
        still = job.outputs.get(key)
        if still and Path(still).is_file():
            return Path(still)
    return _frame_at(Path(video), 0, param, work)  # a job from before posters: its first frame


def _frame_at(video: Path, at_s: Any, param: str, work: Path) -> Path:
    from reelforge.media.frames import frame_at, save_png
    from reelforge.media.probe import probe

    info = probe(video)
    if isinstance(at_s, bool) or not isinstance(at_s, (int, float)) or not 0 <= at_s <= info.duration_s:
        raise InvalidRequest(f"{param}.at_s must be a time within the clip, 0 to {info.duration_s:g} s.",
                             param=f"{param}.at_s")
    index = min(int(round(float(at_s) * info.fps)), info.frames - 1)
    return save_png(frame_at(video, index), work / f"frame-{index}.png")


def wanted(opts: GenerationOptions) -> list[str]:
    """The character names a request asks for (only generate_video's request has the field)."""
    return list(getattr(opts, "characters", None) or [])


def has_references(opts: GenerationOptions) -> bool:
    """Whether the request carries reference images: characters, or images given in options directly."""
    return bool(wanted(opts)) or any(k in opts.options for k in ("reference_images", "references"))


def cast_onto(settings: Settings, opts: GenerationOptions, model: ModelEntry) -> tuple[GenerationOptions, list[str]]:
    """The request with its characters mapped onto `model`'s own reference images; notes say where."""
    names = wanted(opts)
    if not names:
        return opts, []
    cast = [get(settings, n) for n in dict.fromkeys(names)]
    listed = ", ".join(names)
    facts = model.facts
    limit = facts.reference_limit() if facts is not None and hasattr(facts, "reference_limit") else 0
    if "reference" not in model.capabilities.inputs or not limit:
        raise UnsupportedParameter(f"{model.key} takes no reference images, so it cannot show characters ({listed}).",
                                   param="characters", hint="Pick a model whose inputs include 'reference' "
                                   "(list_models), or provider 'auto', which picks only those.")
    key = type(facts).reference_option  # type: ignore[attr-defined]
    given = opts.options.get(key) or []
    if not isinstance(given, list):
        raise InvalidRequest(f"options.{key} must be a list of image paths.", param=f"options.{key}")
    refs = [str(r) for r in given]
    notes, lines = [], []
    for character in cast:
        added = [str(p) for p in character.images if str(p) not in refs]
        refs.extend(added)
        notes.append(f"Character {character.name}: {len(added)} reference image(s) sent to {model.key} as options.{key}.")
        if character.description:
            lines.append(f"Character {character.name}: {character.description.rstrip('.')}.")
        if character.voice and model.capabilities.audio and opts.audio is not False:
            lines.append(f"{character.name}'s voice: {character.voice.rstrip('.')}.")
    if len(refs) > limit:
        extra = f" plus {len(given)} in options.{key}" if given else ""
        raise UnsupportedParameter(
            f"{model.key} takes at most {limit} reference images; characters {listed} bring "
            f"{len(refs) - len(given)}{extra}.", param="characters",
            hint="Use fewer characters or images, or a model that takes more (list_models).")
    prompt = " ".join([opts.prompt.strip(), *lines]).strip()
    return opts.model_copy(update={"options": {**opts.options, key: refs}, "prompt": prompt}), notes
