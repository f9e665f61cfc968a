"""Weights: cache location, hash verification before unpickling, download resume, missing-weights message, CLI."""

import http.server
import shutil
import threading
from pathlib import Path

import pytest
import torch

from buildfiles.errors import UserError
from generator import weights
from generator.models import convert_to_safetensors, load_models, load_vqgan
from generator.registry import CLIPS, VQGANS, parse_models
from generator.tiny import FILES, HASH_FILE, ensure_tiny


def test_cache_dir_follows_roboz_home(monkeypatch, tmp_path):
    monkeypatch.setenv("ROBOZ_HOME", str(tmp_path))
    assert weights.cache_dir() == tmp_path / "models"
    assert weights.models_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("ROBOZ_HOME")
    assert "roboz-collection" in str(weights.cache_dir())


def test_registry_names_and_clip_hash_from_url():
    assert parse_models(None).vqgan == "vqgan_imagenet_f16_16384" and parse_models(None).clip == "ViT-B/32"
    assert parse_models("tiny").tiny
    assert CLIPS["ViT-B/32"].sha256 == "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"
    assert {"vqgan_imagenet_f16_16384", "vqgan_imagenet_f16_1024", "vqgan_gumbel_f8_8192", "wikiart_16384"} <= set(VQGANS)
    with pytest.raises(UserError, match="unknown VQGAN"):
        parse_models("vqgan_nope+ViT-B/32")


def test_loader_refuses_a_checkpoint_whose_hash_does_not_match(roboz_home, tmp_path, monkeypatch):
    root = tmp_path / "models"
    ensure_tiny(root)
    ckpt = root / FILES[1]
    sd = torch.load(ckpt, weights_only=False)
    sd["state_dict"]["decoder.conv_out.bias"] += 1  # a different (valid!) checkpoint
    torch.save(sd, ckpt)
    loads = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a) or pytest.fail("unpickled an unverified file"))
    with pytest.raises(weights.HashMismatch, match="refusing to load"):
        load_models("tiny", "cpu", root)
    assert loads == []


def test_unknown_vqgan_hash_is_recorded_then_enforced(tmp_path):
    root = tmp_path
    (root / "f.bin").write_bytes(b"abc")
    weights.verified_path(root, "f.bin", "h.json", "thing")  # first sight: recorded
    assert weights.read_recorded(root, "h.json")["f.bin"] == weights.sha256_file(root / "f.bin")
    (root / "f.bin").write_bytes(b"abd")
    with pytest.raises(weights.HashMismatch):
        weights.verified_path(root, "f.bin", "h.json", "thing")


def test_missing_weights_error_names_files_and_fix(tmp_path):
    with pytest.raises(UserError) as e:
        weights.require_files(parse_models("vqgan_imagenet_f16_1024+RN50"), tmp_path)
    msg = "\n".join(e.value.lines())
    assert str(tmp_path / "vqgan" / "vqgan_imagenet_f16_1024.ckpt") in msg and str(tmp_path / "clip" / "RN50.pt") in msg
    assert f"roboz-collection models fetch vqgan_imagenet_f16_1024+RN50 --models-dir {tmp_path}" in msg
    # and the layout to copy them in by hand
    assert f"expected layout of {tmp_path}:" in msg and "vqgan/<name>.ckpt" in msg and "clip/ViT-B-32.pt" in msg


def test_real_format_loader_and_safetensors_conversion_agree(roboz_home, tmp_path):
    root = tmp_path / "models"
    yaml, ckpt, _ = ensure_tiny(root)
    a = load_vqgan(yaml, ckpt)
    b = load_vqgan(yaml, convert_to_safetensors(yaml, ckpt))
    assert not hasattr(a, "loss")  # the training loss (VGG download) never built
    for (k, v), (k2, v2) in zip(a.state_dict().items(), b.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves one blob, honouring `Range: bytes=N-` like the real hosts do."""

    blob = b""

    def do_GET(self):
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].rstrip("-"))
        body = self.blob[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_download_resumes_a_partial_file(tmp_path):
    blob = bytes(range(256)) * 4000
    _RangeHandler.blob = blob
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        dest = tmp_path / "w.ckpt"
        (tmp_path / "w.ckpt.part").write_bytes(blob[:300_000])
        seen = []
        weights.download(f"http://127.0.0.1:{srv.server_port}/w", dest, progress=lambda n, t: seen.append((n, t)), chunk=65536)
        assert dest.read_bytes() == blob
        assert seen[0][0] > 300_000 and seen[-1] == (len(blob), len(blob))  # counted from the resumed offset
        assert not (tmp_path / "w.ckpt.part").exists()
    finally:
        srv.shutdown()


def test_models_cli_list_and_verify(tmp_path, capsys):
    from collection.cli import main

    root = tmp_path / "m"
    (root / "clip").mkdir(parents=True)
    (root / "clip" / "RN50.pt").write_bytes(b"not the real file")
    assert main(["models", "list", "--models-dir", str(root)]) == 0
    assert "vqgan_imagenet_f16_16384" in capsys.readouterr().out
    assert main(["models", "verify", "RN50", "--models-dir", str(root)]) == 1
    assert "MISMATCH" in capsys.readouterr().out
    assert main(["models", "fetch", "nope", "--models-dir", str(root)]) == 2


def test_models_verify_fails_when_anything_is_missing_or_altered(tmp_path, capsys):
    from collection.cli import main

    root = tmp_path / "m"
    assert main(["models", "verify", "--models-dir", str(root)]) == 1  # nothing there: the default pair is missing
    out = capsys.readouterr().out
    assert "error: 2 missing of 2 models" in out and f"models fetch vqgan_imagenet_f16_16384 ViT-B/32 --models-dir {root}" in out
    spec = VQGANS["vqgan_imagenet_f16_1024"]
    for rel in (spec.config_file, spec.ckpt_file):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"weights copied in by hand")
    weights.record_hashes(root, spec.hash_file, [spec.config_file, spec.ckpt_file], source="test")
    assert main(["models", "verify", "vqgan_imagenet_f16_1024", "--models-dir", str(root)]) == 0
    assert "all 1 models ok" in capsys.readouterr().out
    (root / spec.ckpt_file).write_bytes(b"altered")
    assert main(["models", "verify", "vqgan_imagenet_f16_1024", "--models-dir", str(root)]) == 1
    assert "1 altered of 1" in capsys.readouterr().out
    # with no names: every model on disk is checked too, so the altered one fails the run
    assert main(["models", "verify", "--models-dir", str(root)]) == 1
    assert "vqgan_imagenet_f16_1024: sha256 MISMATCH" in capsys.readouterr().out


def test_models_list_prints_the_layout(tmp_path, capsys):
    from collection.cli import main

    assert main(["models", "list", "--models-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"expected layout of {tmp_path}:" in out
    assert "vqgan/<name>.yaml" in out and "vqgan/<name>.sha256.json" in out and "clip/<file>.pt" in out


@pytest.mark.parametrize("host, reason", [("weights.invalid", "cannot resolve the host name"), ("127.0.0.1:9", "connection refused")])
def test_models_fetch_offline_is_one_short_line(tmp_path, monkeypatch, capsys, host, reason):
    from collection.cli import main
    from generator import registry

    sha = CLIPS["RN50"].sha256
    monkeypatch.setitem(registry.CLIPS, "RN50", registry.CLIPSpec("RN50", f"http://{host}/clip/models/{sha}/RN50.pt"))
    assert main(["models", "fetch", "RN50", "--models-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: could not download RN50.pt (") and reason in err[0], err
    assert len(err[0]) < 120 and "urllib3" not in err[0] and "HTTPConnection" not in err[0]
    assert err[1].startswith("hint: check the network, or copy the file by hand to " + str(tmp_path / "clip" / "RN50.pt"))
    assert len(err) == 2
