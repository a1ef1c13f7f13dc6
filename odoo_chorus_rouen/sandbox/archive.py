"""The files of one deposit: the file itself, or each member of a ``.tar.gz`` flow, unpacked under caps."""

from __future__ import annotations

import io
import tarfile
import zlib

from ..core.limits import MAX_DEPOSIT_SIZE, MAX_UNPACKED_SIZE

#: Files in one ``.tar.gz`` flow at most (with :data:`MAX_UNPACKED_SIZE` in all).
MAX_MEMBERS = 1000


def split_archive(file_name: str, data: bytes) -> tuple[list[tuple[str, bytes]], str | None]:
    """The files of a deposit: the file itself, or each file of a ``.tar.gz`` / ``.tgz`` archive."""
    if not (file_name.lower().endswith((".tar.gz", ".tgz")) or data[:2] == b"\x1f\x8b"):
        return [(file_name, data)], None
    members: list[tuple[str, bytes]] = []
    unpacked = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            # Member by member, sizes checked before reading: a gzip bomb is refused, never unpacked.
            while (member := archive.next()) is not None:
                if not member.isfile():
                    continue
                unpacked += member.size
                if member.size > MAX_DEPOSIT_SIZE or unpacked > MAX_UNPACKED_SIZE or len(members) >= MAX_MEMBERS:
                    return [], (
                        f"L'archive {file_name} dépasse les limites : {MAX_MEMBERS} fichiers, "
                        f"{MAX_DEPOSIT_SIZE // 2**20} Mo par fichier, {MAX_UNPACKED_SIZE // 2**20} Mo décompressés."
                    )
                members.append((member.name.rsplit("/", 1)[-1], archive.extractfile(member).read(member.size)))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        return [], f"L'archive {file_name} est illisible : {err}"
    if not members:
        return [], f"L'archive {file_name} ne contient aucun fichier."
    return members, None
