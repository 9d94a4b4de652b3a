"""A DistWorker-style file worker: `python -m examples.distworker.file_worker`.

The DistWorker README's `python -m distworker.examples.file_worker`, on treadle. treadle has no
file store, so a task's files are listed in its metadata, as DistWorker's controller lists
them: `metadata={"files": [{"file_id": "f1", "filename": "cat.png", "storage_url": "file:///..."}]}`.
Configured like `basic_worker` (the `DISTWORKER_*` variables). Tasks:

- `files.resize` {"file_id": "f1", "sizes": [64, 128]}: plans one output per size for an image
- `files.convert` {"filename": "report.docx", "to": "pdf"}: plans the conversion of each file of that name
- `files.checksum` {}: reads every `file://` file and returns its size and SHA-256

Resizing and conversion are planned, not performed (no image or document library is involved):
the result names each output and where it would be stored. Runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from treadle.compat.distworker import Task, Worker

IMAGES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
DOCUMENTS = frozenset({".doc", ".docx", ".odt", ".md", ".txt", ".html"})
TARGETS = frozenset({"pdf", "html", "txt"})


def sibling(file_info: dict[str, Any], filename: str) -> dict[str, str]:
    """An output stored next to the input: same folder of the storage URL, another file name."""
    url = file_info["storage_url"]
    return {"filename": filename, "storage_url": url[: url.rfind("/") + 1] + filename}


async def handle_resize(task: Task) -> dict[str, Any]:
    """Plan resized copies of one image."""
    file_info = task.get_file_by_id(task.get_input("file_id"))
    if file_info is None:
        raise ValueError(f"no file {task.get_input('file_id')!r} in this task's files")
    path = PurePosixPath(file_info["filename"])
    if path.suffix.lower() not in IMAGES:
        raise ValueError(f"{path.name} is not an image ({', '.join(sorted(IMAGES))})")
    sizes = task.get_input("sizes", [256])
    outputs = []
    for i, size in enumerate(sizes, 1):
        outputs.append(sibling(file_info, f"{path.stem}@{size}{path.suffix}"))
        await worker.send_task_progress(100 * i / len(sizes), f"{size}px planned")
    return {"file_id": file_info["file_id"], "outputs": outputs}


async def handle_convert(task: Task) -> dict[str, Any]:
    """Plan the conversion of every file with the given name."""
    filename, target = task.get_input("filename"), task.get_input("to", "pdf")
    if target not in TARGETS:
        raise ValueError(f"cannot convert to {target!r} (known: {', '.join(sorted(TARGETS))})")
    matches = task.get_files_by_name(filename)
    if not matches:
        raise ValueError(f"no file named {filename!r} in this task's files")
    converted = []
    for file_info in matches:
        path = PurePosixPath(file_info["filename"])
        if path.suffix.lower() not in DOCUMENTS:
            raise ValueError(f"{path.name} is not a document ({', '.join(sorted(DOCUMENTS))})")
        converted.append({"file_id": file_info["file_id"], **sibling(file_info, f"{path.stem}.{target}")})
    return {"converted": converted}


def digest(storage_url: str) -> dict[str, Any]:
    """Size and SHA-256 of a local file (`file://` URLs only: this worker fetches nothing over the network)."""
    parts = urlsplit(storage_url)
    if parts.scheme != "file":
        raise ValueError(f"only file:// storage URLs can be read here, got {storage_url!r}")
    data = Path(unquote(parts.path)).read_bytes()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


async def handle_checksum(task: Task) -> dict[str, Any]:
    """Read every file of the task and fingerprint it."""
    if not task.files:
        raise ValueError("this task has no files (metadata 'files')")
    results = []
    for i, file_info in enumerate(task.files, 1):
        results.append({"file_id": file_info["file_id"], **await asyncio.to_thread(digest, file_info["storage_url"])})
        await worker.send_task_progress(100 * i / len(task.files), f"{file_info['filename']} read")
    return {"files": results}


worker: Worker


async def main() -> None:
    """Serve the file tasks until interrupted."""
    global worker
    worker = Worker(resource_info={"role": "files"})
    worker.register_handler("files.resize", handle_resize)
    worker.register_handler("files.convert", handle_convert)
    worker.register_handler("files.checksum", handle_checksum)
    await worker.start()
    print(f"worker {worker.worker_id} serving files.* at {worker.controller_url}", flush=True)
    try:
        await asyncio.Event().wait()      # until Ctrl-C or SIGTERM
    finally:
        await worker.stop()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
