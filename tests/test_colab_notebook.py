"""examples/colab.ipynb runs top to bottom in a real Jupyter kernel (nbclient) on the Colab path:
Drive mounted, the wheel uploaded and handed to pip, a sketch uploaded, the demo pair painting on
the CPU, the review page and the gallery opened through the port proxy, the build folder zipped.

Only Colab itself is stood in for: a fake `google.colab` package (drive, files, output, userdata),
written by this test and put on the kernel's path, records every call with its arguments, hands
out the uploads the test queued (saved into the working directory, as Colab does) and answers
`google.colab.kernel.proxyPort(PORT)` with a proxy origin. The overrides go into a cell right after
the one tagged `parameters` (papermill's convention), so the notebook a user opens keeps the Colab
defaults. What this cannot try: Colab's Drive, upload dialog, proxy and GPU, and a real pip install
(pip runs with --dry-run here: tests/test_wheel_install.py installs the same wheel for real).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import socket
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image

from tests.fixtures_wheel import REPO, wheel_file  # noqa: F401  (wheel_file: the session's wheel)

NOTEBOOK = REPO / "examples" / "colab.ipynb"

STUB = {
    "__init__.py": "from google.colab import drive, files, output, userdata  # noqa: F401  (as Colab's package does)\n",
    "_record.py": """\
        import json, os


        def record(fn, *args, **kwargs):
            with open(os.environ["FAKE_COLAB_LOG"], "a") as f:
                f.write(json.dumps({"fn": fn, "args": list(args), "kwargs": kwargs}) + "\\n")
        """,
    "drive.py": """\
        from google.colab._record import record


        def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
            record("drive.mount", mountpoint, force_remount=force_remount)
        """,
    "files.py": """\
        import os, shutil
        from pathlib import Path

        from google.colab._record import record


        def upload():
            queue = Path(os.environ["FAKE_COLAB_UPLOADS"])
            batch = sorted(p for p in queue.iterdir() if p.is_dir())[0]   # the next dialog's choice
            out = {}
            for f in sorted(batch.iterdir()):
                shutil.copyfile(f, f.name)   # Colab saves uploads into the working directory
                out[f.name] = f.read_bytes()
            shutil.rmtree(batch)
            record("files.upload", returned=sorted(out))
            return out


        def download(filename):
            record("files.download", filename, exists=Path(filename).is_file())
        """,
    "output.py": """\
        import re

        from google.colab._record import record

        PROXY = "https://{port}-m-s-ci-test.prod.colab.dev"


        def eval_js(script, ignore_result=False, timeout_sec=None):
            record("output.eval_js", script)
            m = re.fullmatch(r"google\\.colab\\.kernel\\.proxyPort\\((\\d+)\\)", script)
            return PROXY.format(port=m.group(1)) + "/" if m else None


        def serve_kernel_port_as_window(port, path="/", anchor_text=None):
            record("output.serve_kernel_port_as_window", port, path=path, anchor_text=anchor_text)
        """,
    "userdata.py": """\
        from google.colab._record import record


        def get(key):
            record("userdata.get", key)
            raise KeyError(key)
        """,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _parameters_index(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))


def test_defaults_are_the_colab_path():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    src = nb.cells[_parameters_index(nb)].source
    assert re.search(r'^IN_COLAB = importlib.util.find_spec\("google.colab"\) is not None', src, re.M)
    for line in (r"^INSTALL = IN_COLAB", r"^USE_DRIVE = IN_COLAB", r'^DEVICE = "cuda"', r"^FETCH_WEIGHTS = True",
                 r'^REPO_URL = ""', r'^DRIVE_DIR = "/content/drive/MyDrive/roboz"'):
        assert re.search(line, src, re.M), line
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert 'drive.mount("/content/drive")' in code and "files.upload()" in code and "files.download(" in code
    assert "serve_kernel_port_as_window" in code and "public_origins=" in code
    # never a package name that is on no index: a wheel (Drive or upload) or the repository URL
    assert not re.search(r"pip\S* install\s+(--\S+\s+)*roboz-collection\b", code)
    assert nb.metadata["accelerator"] == "GPU"


@pytest.mark.slow
def test_notebook_runs_the_colab_path_on_the_demo_pair(tmp_path, monkeypatch, wheel_file):  # noqa: F811
    fake = tmp_path / "fake-colab"
    for name, text in STUB.items():
        p = fake / "google" / "colab" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    log = tmp_path / "colab-calls.jsonl"
    uploads = tmp_path / "uploads"
    (uploads / "1").mkdir(parents=True)
    shutil.copyfile(wheel_file, uploads / "1" / wheel_file.name)  # the artist uploads the wheel from dist/
    (uploads / "2").mkdir()
    sketch = Image.open(REPO / "collection" / "assets" / "jax.png").convert("RGB").rotate(90)
    sketch.save(uploads / "2" / "my-sketch.jpg", quality=95)  # then their own sketch, a JPEG
    content = tmp_path / "content"  # the kernel's working directory, as /content on Colab
    content.mkdir()
    drive_dir = tmp_path / "drive" / "MyDrive" / "roboz"
    review_port, gallery_port = _free_port(), _free_port()
    monkeypatch.setenv("PYTHONPATH", str(fake))
    monkeypatch.setenv("FAKE_COLAB_LOG", str(log))
    monkeypatch.setenv("FAKE_COLAB_UPLOADS", str(uploads))

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.insert(_parameters_index(nb) + 1, nbformat.v4.new_code_cell(textwrap.dedent(f"""\
        PIP_OPTIONS = "-v --dry-run --no-deps --no-index --force-reinstall"   # pip checks the wheel, changes nothing (-v undoes --quiet)
        DRIVE_DIR = {str(drive_dir)!r}
        FETCH_WEIGHTS = False   # no network in CI
        DEVICE = "cpu"
        SUPPLY = 2              # the two specials: the smallest collection
        REVIEW_PORT, GALLERY_PORT = {review_port}, {gallery_port}
        """)))
    nb.cells.append(nbformat.v4.new_code_cell("gallery.terminate(); gallery.wait(); review.close()"))
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(content)}})
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells[:-1]):
            client.execute_cell(cell, i)
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        served = {c["args"][0]: c["kwargs"]["path"] for c in calls if c["fn"] == "output.serve_kernel_port_as_window"}
        review_checks = _check_review(review_port, served[review_port])
        gallery_checks = _check_gallery(gallery_port, served[gallery_port])
        client.execute_cell(nb.cells[-1], len(nb.cells) - 1)

    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    fns = [c["fn"] for c in calls]
    # Drive: mounted where Colab mounts it; the cache and the project live in DRIVE_DIR
    assert calls[0] == {"fn": "drive.mount", "args": ["/content/drive"], "kwargs": {"force_remount": False}}
    assert f"working in {drive_dir}" in text
    # install: no wheel on Drive yet, so it was uploaded, kept on Drive, and handed to pip
    assert calls[1] == {"fn": "files.upload", "args": [], "kwargs": {"returned": [wheel_file.name]}}
    assert (drive_dir / wheel_file.name).read_bytes() == wheel_file.read_bytes()
    assert f"installing {drive_dir / wheel_file.name}" in text and "Would install roboz-collection-0.1.0" in text
    assert "CUDA available:" in text
    # the sketch: uploaded, kept as PNG beside the manifest, the manifest's init image now
    assert calls[2] == {"fn": "files.upload", "args": [], "kwargs": {"returned": ["my-sketch.jpg"]}}
    project = drive_dir / "my-roboz"
    assert re.search(r"(?m)^\s*init_image: sketch\.png", (project / "manifest.yaml").read_text())
    assert Image.open(project / "sketch.png").size == sketch.size
    # no weights here: the draft was painted by the demo pair
    build = project / "build-draft"
    plan = json.loads((build / "plan.json").read_text())
    assert plan["render"]["models"] == "demo" and "draft with the demo models" in text
    assert sorted(p.name for p in (build / "images").glob("*.png")) == ["1.png", "2.png", "banner.png"]
    # progress pictures inline: each finished token's picture, then the contact sheet
    pngs = [base64.b64decode(o["data"]["image/png"]) for c in nb.cells for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]
    for f in (build / "images" / "1.png", build / "images" / "2.png", build / "contact-sheets" / "sheet-001.png"):
        assert f.read_bytes() in pngs, f
    # review page and gallery through the proxy
    proxy = f"https://{review_port}-m-s-ci-test.prod.colab.dev"
    assert {"fn": "output.eval_js", "args": [f"google.colab.kernel.proxyPort({review_port})"], "kwargs": {}} in calls
    assert re.fullmatch(r"/[\w-]+/", served[review_port]) and served[gallery_port] == "/gallery.html"
    assert review_checks == {"page": 200, "decision": 200, "foreign origin": 403, "foreign host": 403}, proxy
    assert gallery_checks["gallery.html"] == 200 and gallery_checks["images/1.png"] == (build / "images" / "1.png").read_bytes()
    # published offline, then the whole build folder zipped and offered for download
    assert re.search(r"metadata\s+bafy", text) and list((build / "car").glob("*.car"))
    archive = drive_dir / "my-roboz-build-draft.zip"
    assert calls[-1] == {"fn": "files.download", "args": [str(archive)], "kwargs": {"exists": True}}
    names = zipfile.ZipFile(archive).namelist()
    for must in ("build-draft/gallery.html", "build-draft/images/1.png", "build-draft/metadata/1.json",
                 "build-draft/contact-sheets/sheet-001.png", "build-draft/plan.json"):
        assert must in names, must
    assert any(n.startswith("build-draft/car/") for n in names)
    assert not any("/checkpoints/" in n or n.endswith(".roboz.lock") for n in names)
    assert "userdata.get" not in fns  # PUBLISH_TO car needs no secret


def _http(port: int, method: str, path: str, host: str, origin: str | None = None, body: dict | None = None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": host}
    if origin:
        headers["Origin"] = origin
    if body is not None:
        headers["Content-Type"] = "application/json"
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    return r.status, r.read()


def _check_review(port: int, page: str) -> dict[str, int]:
    """The page as the proxy asks for it (its Host, its Origin), and what must stay refused."""
    proxy_host = f"{port}-m-s-ci-test.prod.colab.dev"
    origin = f"https://{proxy_host}"
    decision = {"id": 1, "decision": "keep"}
    return {
        "page": _http(port, "GET", page, proxy_host)[0],
        "decision": _http(port, "POST", page + "api/decision", proxy_host, origin, decision)[0],
        "foreign origin": _http(port, "POST", page + "api/decision", proxy_host, "https://evil.example", decision)[0],
        "foreign host": _http(port, "GET", page, "evil.example")[0],
    }


def _check_gallery(port: int, page: str) -> dict:
    host = f"127.0.0.1:{port}"
    return {"gallery.html": _http(port, "GET", page, host)[0], "images/1.png": _http(port, "GET", "/images/1.png", host)[1]}
