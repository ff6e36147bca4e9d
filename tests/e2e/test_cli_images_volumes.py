"""`berth rmi`, `berth image prune` and `berth volume`, run as users run them, against the whole
stack: the real agent refuses to remove an image or a volume a container uses, the CLI says so
in its words and exits 1; once the container is gone, both go, and prune keeps the current image."""
from __future__ import annotations

import pytest

from .test_cli_run import api_get, berth, create_app, wait_for  # noqa: F401 (berth: the fixture)

pytestmark = pytest.mark.e2e

# A build arg that changes a layer: two builds, two images.
DOCKERFILE = 'FROM busybox\nARG V=1\nRUN echo "$V" > /v\nCMD ["sleep", "600"]\n'


def test_what_a_container_uses_is_refused_by_the_host_and_goes_once_it_is_removed(stack, berth):  # noqa: F811
    code, out, err = berth("volume", "create", "cache")
    assert (code, out) == (0, "cache\n"), err
    app = create_app(stack, berth.token, "keeper", DOCKERFILE, memory_mb=32, volumes=["cache:/cache"])
    for value in ("1", "2"):
        code, out, err = berth("build", "keeper", "--build-arg", f"V={value}")
        assert code == 0, out + err
    builds = sorted(row["build"] for row in api_get(stack, berth.token, "images/"))
    assert len(builds) == 2  # the build arg made a second image
    code, out, err = berth("run", "-d", "keeper")
    assert code == 0, err
    cid = int(out)
    wait_for("the container to run", lambda: api_get(stack, berth.token, f"containers/{cid}/")["status"] == "running")

    code, out, err = berth("rmi", "keeper")
    assert code == 1 and out == "" and f"berth: keeper: {stack.host} refused: image " in err, err
    assert "is used by container(s)" in err
    code, out, err = berth("volume", "rm", "cache")
    assert code == 1 and f"Volume cache is in use by keeper-{cid}: remove them first (stopped ones too)." in err, err
    code, out, err = berth("image", "prune", "-f")  # the older image: no container uses it
    assert code == 0, err
    assert out.endswith("Removed 1 of 1 older image(s) of team alice; each app keeps its current one.\n"), out
    assert [row["build"] for row in api_get(stack, berth.token, "images/")] == builds[1:]

    assert berth("rm", "-f", str(cid))[0] == 0
    wait_for("the container's removal", lambda: api_get(stack, berth.token, f"containers/{cid}/")["status"]
             == "removed")
    code, out, err = berth("rmi", "keeper")
    assert code == 0, err
    assert out.startswith(f"Untagged: team{app['team_id']}/keeper:latest\nDeleted: sha256:"), out
    code, out, err = berth("volume", "rm", "cache")
    assert (code, out) == (0, "cache\n"), err
    assert api_get(stack, berth.token, "images/") == [] and api_get(stack, berth.token, "volumes/") == []
