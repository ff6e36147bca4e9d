"""A build context archive held for the new-app form when it comes back with an error.

Browsers clear file inputs on a page shown again, so without this a user who mistyped a port
would have to choose the archive again. The checked archive waits in the default storage
under a random token that the re-shown form carries in a hidden field; it is found only under
its user's own folder, so a token is of no use to anyone else. A user has at most one kept
archive: keeping another (or creating the app) removes the last, so abandoned forms leave one
archive a user at most, and nothing needs sweeping.
"""
from __future__ import annotations

import re
import secrets

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{24}$")
_ROOT = "kept-uploads"


def _folder(user) -> str:
    return f"{_ROOT}/{user.id}"


def _remove_all(user) -> None:
    folder = _folder(user)
    if not default_storage.exists(folder):
        return
    tokens, _ = default_storage.listdir(folder)
    for token in tokens:
        for name in default_storage.listdir(f"{folder}/{token}")[1]:
            default_storage.delete(f"{folder}/{token}/{name}")


def keep(user, upload) -> str:
    """Hold the (already checked) upload for the user's next try; returns its token."""
    _remove_all(user)
    token = secrets.token_urlsafe(18)
    name = default_storage.get_valid_name(upload.name.replace("\\", "/").rsplit("/", 1)[-1]) or "context.tar"
    upload.seek(0)
    default_storage.save(f"{_folder(user)}/{token}/{name}", upload)
    return token


def take(user, token: str) -> File:
    """The archive kept under ``token``, named as the user's file was."""
    names = []
    if _TOKEN.match(token or ""):
        folder = f"{_folder(user)}/{token}"
        if default_storage.exists(folder):
            names = default_storage.listdir(folder)[1]
    if not names:
        raise ValidationError("The build context kept from your last try is no longer here (another new-app "
                              "form kept one since): choose the archive again.")
    return File(default_storage.open(f"{folder}/{names[0]}"), name=names[0])


def discard(user) -> None:
    """Once the app holds its own copy."""
    _remove_all(user)
