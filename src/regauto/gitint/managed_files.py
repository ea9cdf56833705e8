"""regauto's own lines in user-visible files: the merge drivers' ``.gitattributes`` lines and
git config, and the generated outputs a commit may not carry hand edits of."""

from __future__ import annotations

import sys

from regauto import git
from regauto.errors import RegautoError
from regauto.project import Project


def _say(msg: str) -> None:
    sys.stderr.write(f"regauto: {msg}\n")


def ensure_driver(project: Project, *, stage: bool = False) -> None:
    """The merge drivers' git config and ``.gitattributes`` lines.  With ``stage`` (the
    commit hook) a line added to ``.gitattributes`` — a generated output configured since
    ``init`` — is staged too, alone (the index's text plus the line, so the user's unstaged
    edits of that file stay out of the commit): else the commit would leave it modified."""
    def attrs() -> bytes | None:
        try:
            return (project.root / ".gitattributes").read_bytes()
        except OSError:
            return None

    before = attrs()
    try:
        from regauto.gitint import install

        install.ensure_merge_driver(project.root, project.config.registry,
                                    project.config.outputs)
        if stage and project.config.auto_stage != "none" and attrs() != before:
            staged = git.show_file(project.root, "", ".gitattributes")
            text = (staged or b"").decode("utf-8", "surrogateescape")
            new = install.with_driver_lines(text, project.config.registry,
                                            project.config.outputs)
            if new != text:
                from regauto.gitint import index_commit

                blob = git.update_index_blob(project.root, ".gitattributes",
                                             new.encode("utf-8", "surrogateescape"))
                index_commit.record_staged(project, {".gitattributes": (
                    None if staged is None else git.blob_id(staged), blob)})
    except (ImportError, OSError, RegautoError) as e:  # never let this block a commit
        _say(f"warning: could not configure the registry merge driver: {e}")


def edited_outputs(project: Project, staged: list[git.Change]) -> list[str]:
    """Staged generated outputs whose staged content is not what regauto rendered (no
    marker, or a body that no longer matches its checksum)."""
    outs = set(project.config.outputs)
    mine = [c for c in staged if c.path in outs and c.blob is not None]
    if not mine:
        return []
    from regauto.generators import marker

    blobs = git.cat_blobs(project.root, [c.blob for c in mine if c.blob])
    edited = []
    for c in mine:
        assert c.blob is not None
        parsed = marker.parse(c.path, blobs[c.blob].decode("utf-8", "replace"))
        if parsed is None or parsed.edited:
            edited.append(c.path)
    return sorted(edited)
