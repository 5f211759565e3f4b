"""Policy files run code when SB3 loads them: msgym loads only those it wrote here or ships."""

import base64
import json
import os
import pickle
import zipfile

import pytest

from msgym.policies import PolicyTrustError, check_policy, sha256, write_metadata
from msgym.search import create


class _Payload:
    """Unpickling this runs a shell command: what a crafted policy.zip does to whoever loads it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def hostile_zip(path, marker):
    data = {
        "policy_class": {
            ":type:": "<class 'abc.ABCMeta'>",
            ":serialized:": base64.b64encode(pickle.dumps(_Payload(marker))).decode(),
        }
    }
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data", json.dumps(data))
        z.writestr("_stable_baselines3_version", "2.9.2")
    return path


def test_a_received_policy_is_refused_before_it_can_run_anything(tmp_path):
    from stable_baselines3.common.save_util import load_from_zip_file

    marker = tmp_path / "pwned"
    path = hostile_zip(tmp_path / "policy.zip", marker)
    path.with_suffix(".json").write_text(
        json.dumps({"encoding": "features-v1/329+14", "n_actions": 32, "sha256": sha256(path)})
    )  # a matching hash proves nothing
    for attempt in (
        lambda: check_policy(path),
        lambda: create("ppo", policy=str(path)),
        lambda: create("ppo-pretrained", policy=str(path)),
    ):
        with pytest.raises(PolicyTrustError, match="not written by msgym on this machine.*trust_policy=true"):
            attempt()
    assert not marker.exists()
    load_from_zip_file(str(path))  # what loading it would do: the file really is hostile
    assert marker.exists()


def test_policies_msgym_wrote_or_ships_load_and_changed_ones_do_not(tmp_path):
    from sb3_contrib import MaskablePPO

    from agents.ppo_pretrained import DEFAULT_POLICY
    from msgym.envs.schedule_env import ScheduleEnv

    assert check_policy(DEFAULT_POLICY)["sha256"] == sha256(DEFAULT_POLICY)  # shipped, with its hash
    path = tmp_path / "mine.zip"
    MaskablePPO("MlpPolicy", ScheduleEnv("gmm-64"), device="cpu").save(str(path))
    with pytest.raises(PolicyTrustError):
        check_policy(path)
    check_policy(path, trusted=True)  # the user's word
    write_metadata(path, {"note": "made here"})
    assert check_policy(path)["note"] == "made here"
    with open(path, "ab") as f:
        f.write(b"tampered")
    with pytest.raises(PolicyTrustError, match="changed since it was written"):
        check_policy(path)
