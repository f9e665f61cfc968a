"""The metadata step on a fixture build dir: schemas, URIs, rarity, provenance, CIDs, re-runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from buildfiles.errors import UserError
from metadata.build import write_metadata
from tests.fixtures_ipfs import ipfs_car_pack, make_build_dir, repaint

SCHEMAS = Path(__file__).parents[1] / "metadata" / "schemas"


def _schema(name):
    return json.loads((SCHEMAS / name).read_text())


def _load(build: Path, rel: str):
    return json.loads((build / rel).read_text())


def test_every_token_and_the_collection_validate_against_the_schemas(build_dir):
    write_metadata(build_dir)
    token_schema, coll_schema = _schema("token.schema.json"), _schema("collection.schema.json")
    jsonschema.Draft202012Validator.check_schema(token_schema)
    for i in range(1, 6):
        jsonschema.validate(_load(build_dir, f"metadata/{i}.json"), token_schema)
    jsonschema.validate(_load(build_dir, "metadata/collection.json"), coll_schema)


def test_schemas_reject_gateway_urls_and_bad_attributes(build_dir):
    write_metadata(build_dir)
    schema = _schema("token.schema.json")
    md = _load(build_dir, "metadata/1.json")
    bad = dict(md, image="https://ipfs.io/ipfs/" + md["image"][7:])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    bad = dict(md, attributes=[{"trait_type": "Iterations", "value": "20", "display_type": "number"}])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    coll = _load(build_dir, "metadata/collection.json")
    del coll["fee_recipient"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(coll, _schema("collection.schema.json"))


def test_token_fields_uris_and_attributes(build_dir):
    r = write_metadata(build_dir)
    md2 = _load(build_dir, "metadata/2.json")
    assert md2["name"] == "Rusty Roboz #2"
    assert md2["image"] == f"ipfs://{r.images_cid}/2.png"
    assert md2["animation_url"] == f"ipfs://{r.animations_cid}/2.mp4"
    assert md2["external_url"] == "https://roboz.example/token/2"
    attrs = {a["trait_type"]: a for a in md2["attributes"]}
    assert attrs["Body"]["value"] == "Rusty" and attrs["Eyes"]["value"] == "Sleepy"
    assert attrs["Iterations"] == {"trait_type": "Iterations", "value": 20, "display_type": "number"}
    assert attrs["Seed"]["value"] == 1002
    assert attrs["Model"]["value"] == "tiny-vqgan + tiny-clip"
    assert "Test render" in attrs                     # tiny-model renders are marked
    assert "animation_url" not in _load(build_dir, "metadata/1.json")  # no video, no URL
    special = _load(build_dir, "metadata/5.json")
    assert {"trait_type": "Special", "value": "Jax"} in special["attributes"]
    assert special["name"] == "Jax the First"


def test_real_renders_are_not_marked_as_test(tmp_path):
    build = make_build_dir(tmp_path, tiny=False)
    write_metadata(build)
    assert all(a["trait_type"] != "Test render" for a in _load(build, "metadata/1.json")["attributes"])


def test_collection_json_and_cids(build_dir):
    r = write_metadata(build_dir)
    coll = _load(build_dir, "metadata/collection.json")
    assert coll["name"] == "Rusty Roboz" and coll["symbol"] == "ROBOZ"
    assert coll["seller_fee_basis_points"] == 500 and coll["fee_recipient"] == "0x" + "ab" * 20
    assert coll["external_link"] == "https://roboz.example/"
    assert coll["image"] == f"ipfs://{r.images_cid}/1.png"
    cids = _load(build_dir, "cids.json")
    assert cids["base_uri"] == f"ipfs://{r.metadata_cid}/" == r.base_uri
    assert cids["contract_uri"] == f"ipfs://{r.metadata_cid}/collection.json"
    assert set(cids["files"]) >= {"images/1.png", "metadata/1.json", "metadata/collection.json", "animations/2.mp4"}


def test_collection_image_lives_in_the_images_folder(tmp_path):
    build = make_build_dir(tmp_path, collection_image=True, royalties=False)
    r = write_metadata(build)
    coll = _load(build, "metadata/collection.json")
    assert coll["image"] == f"ipfs://{r.images_cid}/collection.png"
    assert "seller_fee_basis_points" not in coll
    assert "images/collection.png" in _load(build, "cids.json")["files"]


def test_folder_cids_equal_ipfs_car_on_the_written_folders(build_dir, ipfs_car, tmp_path):
    r = write_metadata(build_dir)
    assert ipfs_car_pack(ipfs_car, build_dir / "metadata", tmp_path / "m.car") == r.metadata_cid
    assert ipfs_car_pack(ipfs_car, build_dir / "images", tmp_path / "i.car") == r.images_cid
    assert ipfs_car_pack(ipfs_car, build_dir / "animations", tmp_path / "a.car") == r.animations_cid


def test_provenance_is_sha256_of_concatenated_image_hashes(build_dir):
    r = write_metadata(build_dir)
    prov = _load(build_dir, "provenance.json")
    hashes = [hashlib.sha256((build_dir / "images" / f"{i}.png").read_bytes()).hexdigest() for i in range(1, 6)]
    assert [e["sha256"] for e in prov["images"]] == hashes
    assert [e["id"] for e in prov["images"]] == [1, 2, 3, 4, 5]
    assert prov["provenance_hash"] == hashlib.sha256("".join(hashes).encode()).hexdigest() == r.provenance_hash


def test_rerun_writes_nothing_and_a_changed_image_changes_cids_and_provenance(build_dir):
    first = write_metadata(build_dir)
    again = write_metadata(build_dir)
    assert again.written == () and again.unchanged == len(first.written)
    repaint(build_dir, 3, (0, 0, 0))
    third = write_metadata(build_dir)
    assert third.images_cid != first.images_cid and third.metadata_cid != first.metadata_cid
    assert third.provenance_hash != first.provenance_hash
    assert "metadata/3.json" in third.written and "cids.json" in third.written


def test_missing_image_is_a_user_error_naming_it(build_dir):
    (build_dir / "images" / "4.png").unlink()
    with pytest.raises(UserError, match=r"images/4\.png"):
        write_metadata(build_dir)


def test_stale_token_json_from_a_bigger_plan_is_removed(build_dir):
    (build_dir / "metadata").mkdir()
    (build_dir / "metadata" / "99.json").write_text("{}")
    (build_dir / "metadata" / "notes.json").write_text("{}")  # not ours: left alone
    r = write_metadata(build_dir)
    assert not (build_dir / "metadata" / "99.json").exists()
    assert (build_dir / "metadata" / "notes.json").exists()
    assert "metadata/99.json (removed)" in r.written


def test_rarity_json_format(build_dir):
    write_metadata(build_dir)
    rar = _load(build_dir, "rarity.json")
    assert rar["method"] == "openrarity"
    assert rar["trait_counts"]["Body"] == {"Chrome": 1, "Rusty": 3}
    assert [t["id"] for t in rar["tokens"]] == [1, 2, 3, 4, 5]
    by_id = {t["id"]: t for t in rar["tokens"]}
    assert by_id[5]["rank"] == 1                      # the 1/1 special is the rarest
    assert by_id[1]["score"] == by_id[4]["score"]     # identical traits, identical score and rank
    assert by_id[1]["rank"] == by_id[4]["rank"]


def test_cli_metadata_command(build_dir, capsys):
    from collection.cli import main

    assert main(["metadata", str(build_dir)]) == 0
    out = capsys.readouterr().out
    cids = _load(build_dir, "cids.json")
    assert cids["base_uri"] in out
    assert main(["metadata", str(build_dir)]) == 0
    assert "unchanged" in capsys.readouterr().out
