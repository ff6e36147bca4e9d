"""``berth``: Berth's command line, a client of the JSON API (no Django in here).

    python -m webui.api.client --help
    python -m webui.api.client login http://127.0.0.1:8000 --token berth_...
    python -m webui.api.client run -d -p 18080:80 -m 64m --cpus 0.5 -e GREETING=hi hello

What each command does is here; its flags and how Docker's values are read are in
cli_flags.py, and how tables and sizes are printed in cli_tables.py.
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from . import cli_tables
from .cli_flags import parser

CONFIG = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "berth" / "config.json"
FOLLOW_SECONDS = 0.5
STATS_SECONDS = 1.0  # the agents sample once a second
# After a container ended, the log shipper may still bring its last lines: read until none
# came for this long.
LOG_SETTLE_SECONDS = 2.0
ENDED = ("exited", "failed", "lost", "removed")
# A host removes an image or a volume when its agent takes the job, within a second or two
# while it is up; longer means it is down or busy, which the user should hear of.
HOST_ANSWER_SECONDS = 30.0
# The API's names of settings, as the flags that set them.
RUN_FLAGS = {"ports": "-p/--publish", "memory_mb": "-m/--memory", "cpus": "--cpus", "pids_limit": "--pids-limit",
             "env": "-e/--env", "restart_policy": "--restart"}
APP_FLAGS = RUN_FLAGS | {"cpuset_cpus": "--cpuset-cpus", "network_in_mb": "--network-in-rate",
                         "network_out_mb": "--network-out-rate", "volumes": "-v/--volume",
                         "host_labels": "--host-label"}


class ClientError(Exception):
    """What went wrong, as the user should read it; ``status``: the HTTP status that said so."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Api:
    def __init__(self, url: str, token: str):
        self.url, self.token = url.rstrip("/"), token

    def call(self, method: str, path: str, body: dict | None = None, flags: dict | None = None):
        """The answer's JSON; a refusal as a ClientError in the server's words, each field's
        errors under the flag that set it (``flags``: field to flag)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/api/{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
            "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ClientError(_explain(exc, flags or {}), exc.code) from None
        except urllib.error.URLError as exc:
            raise ClientError(f"cannot reach Berth at {self.url}: {exc.reason}") from None


def _explain(exc: urllib.error.HTTPError, flags: dict) -> str:
    try:
        body = json.loads(exc.read())
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        return f"{body['detail']} (HTTP {exc.code})"
    if isinstance(body, dict):  # a form's errors, by field
        return "; ".join(f"{flags.get(field, field)}: {' '.join(map(str, errors))}" for field, errors in body.items())
    return f"HTTP {exc.code} {exc.reason}"


def _api() -> Api:
    saved = json.loads(CONFIG.read_text()) if CONFIG.exists() else {}
    url, token = os.environ.get("BERTH_URL", saved.get("url")), os.environ.get("BERTH_TOKEN", saved.get("token"))
    if not url or not token:
        raise ClientError("not logged in: run `berth login URL --token TOKEN` (make a token on the API tokens page)")
    return Api(url, token)


def _print_table(rows: list[dict], columns: list[str]) -> None:
    print(cli_tables.table(rows, [(c.upper(), c) for c in columns]))


def _app_id(api: Api, name_or_id: str) -> int:
    apps = api.call("GET", "apps/")
    found = [a for a in apps if a["name"] == name_or_id or str(a["id"]) == name_or_id]
    if len(found) != 1:
        known = ", ".join(a["name"] for a in apps) or "none"
        raise ClientError(f"no app {name_or_id!r} in your teams (yours: {known})"
                          if not found else f"{name_or_id!r} names apps in several teams: use its ID")
    return found[0]["id"]


def _is_id(ref: str) -> bool:
    return ref.isascii() and ref.isdigit()  # isdigit alone is true of "²", which int() refuses


def _container_id(api: Api, ref: str) -> int:
    """A container by its ID or its name (``hello-3``), as docker takes either."""
    if _is_id(ref):
        return int(ref)
    found = [c for c in api.call("GET", "containers/") if c["name"] == ref]
    if not found:
        raise ClientError(f"no container {ref!r} in your teams (`berth ps -a` lists them)")
    return found[0]["id"]


def cmd_login(args) -> int:
    api = Api(args.url, args.token)
    api.call("GET", "apps/")  # the token works before it is kept
    CONFIG.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(CONFIG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": api.url, "token": args.token}, f)
    print(f"logged in to {api.url}")
    return 0


def cmd_apps(args) -> int:
    _print_table(_api().call("GET", "apps/"), ["id", "name", "team", "ports", "memory_mb", "cpus", "restart_policy"])
    return 0


def cmd_ps(args) -> int:
    rows = [c for c in _api().call("GET", "containers/") if args.all or c["status"] != "removed"]
    _print_table(rows, ["id", "name", "status", "host", "ports", "ip", "restart_count"])
    return 0


def cmd_hosts(args) -> int:
    try:
        hosts = _api().call("GET", "hosts/")
    except ClientError as exc:
        if exc.status == 404:  # as the pages: the hosts are not there for others
            raise ClientError("the hosts are for admins: log in with an admin's token to see them", 404) from None
        raise
    for host in hosts:
        host["labels"] = ",".join(f"{key}={value}" for key, value in sorted(host["labels"].items())) or "-"
    _print_table(hosts, ["name", "is_up", "cordoned", "labels", "cpus", "containers", "cpu_percent", "agent_version"])
    return 0


def cmd_images(args) -> int:
    rows = [cli_tables.image_row(row) for row in _api().call("GET", "images/")]
    print(cli_tables.table(rows, cli_tables.IMAGE_COLUMNS))
    return 0


def _each(refs: list[str], do) -> int:
    """``do`` for each name given, as docker rmi and docker volume rm do: a refusal is told
    and the rest go on; 1 if any was refused."""
    refused = False
    for ref in refs:
        try:
            do(ref)
        except ClientError as exc:
            print(f"berth: {exc}", file=sys.stderr)
            refused = True
    return 1 if refused else 0


def _await_hosts(api: Api, paths: list[str]) -> dict[str, str | None]:
    """Wait for the hosts' answers to the removals asked at ``paths``: None for each one gone
    (404), else the host's reason for refusing it."""
    answers: dict[str, str | None] = {}
    deadline = time.monotonic() + HOST_ANSWER_SECONDS
    while True:
        for path in [p for p in paths if p not in answers]:
            try:
                row = api.call("GET", path)
            except ClientError as exc:
                if exc.status != 404:
                    raise
                answers[path] = None
                continue
            if row["error"] and not row.get("removing"):
                answers[path] = row["error"]
        if len(answers) == len(paths):
            return answers
        if time.monotonic() > deadline:
            raise ClientError(f"asked; no answer from the host in {HOST_ANSWER_SECONDS:g} s (it may be down): "
                              "the list shows how it ends")
        time.sleep(FOLLOW_SECONDS)


def _team(api: Api, ref: str | None) -> dict:
    """The team --team names (by name or ID); without it, the only one of yours you may write in."""
    mine = [t for t in api.call("GET", "teams/") if t["role"] is not None]
    names = ", ".join(f"{t['name']} ({t['role']})" for t in mine) or "none"
    if ref is not None:
        found = [t for t in mine if ref in (t["name"], str(t["id"]))]
        if not found:
            raise ClientError(f"no team {ref!r} among yours: {names}")
        return found[0]
    writable = [t for t in mine if t["role"] != "viewer"]
    if len(writable) != 1:
        raise ClientError(f"say which team with --team; yours: {names}")
    return writable[0]


def _image(api: Api, ref: str) -> int:
    """An image's build ID from what `berth images` shows: a build ID, the image's name
    (``team1/web:latest``, or the app's name, for its current image) or an image ID prefix.
    A number is a build ID first: an image ID only when no build listed has it."""
    rows = api.call("GET", "images/")
    if _is_id(ref) and any(r["build"] == int(ref) for r in rows):
        return int(ref)
    by_name = {r["build"] for r in rows if r["current"] and ref in (r["image"], r["app"], f"{r['app']}:latest")}
    digest = ref.removeprefix("sha256:")
    is_hex = bool(digest) and all(c in "0123456789abcdef" for c in digest)
    by_id = {r["build"] for r in rows if is_hex and r["image_id"].removeprefix("sha256:").startswith(digest)}
    found = by_name or by_id
    if not found and _is_id(ref):
        return int(ref)  # not listed (the same image as a later build's, or not yours): the server says why
    if not found:
        raise ClientError(f"no image {ref!r} in your teams (`berth images` lists them)")
    if len(found) > 1:
        raise ClientError(f"{ref!r} names several images: give a build ID ({', '.join(map(str, sorted(found)))})")
    return found.pop()


def _removed_lines(row: dict) -> list[str]:
    """What docker rmi prints of an image removed: its tag untagged, if it held it, and its ID."""
    return ([f"Untagged: {row['image']}"] if row["current"] else []) + [
        f"Deleted: {row['image_id'] or 'the image of build #' + str(row['build'])}"]


def cmd_rmi(args) -> int:
    api = _api()

    def remove(ref: str) -> None:
        try:
            row = api.call("DELETE", f"images/{_image(api, ref)}/")
        except ClientError as exc:
            if exc.status == 404:  # a build ID that is not one of your teams'
                raise ClientError(f"no image {ref!r} in your teams (`berth images` lists them)", 404) from None
            raise
        refusal = _await_hosts(api, [f"images/{row['build']}/"]).popitem()[1]
        if refusal:
            raise ClientError(f"{ref}: {row['host']} refused: {refusal}")
        print("\n".join(_removed_lines(row)), flush=True)
    return _each(args.images, remove)


def cmd_image_prune(args) -> int:
    api = _api()
    team = _team(api, args.team)
    if not args.force:
        print(f"WARNING! This will remove every image of team {team['name']} but each app's current one.")
        try:
            sure = input("Are you sure you want to continue? [y/N] ").strip().lower() in ("y", "yes")
        except EOFError:
            sure = False
        if not sure:
            raise ClientError("image prune has been cancelled")
    rows = api.call("POST", f"teams/{team['id']}/images/prune/")["removing"]
    answers = _await_hosts(api, [f"images/{row['build']}/" for row in rows])
    deleted = [row for row in rows if answers[f"images/{row['build']}/"] is None]
    for row in rows:
        refusal = answers[f"images/{row['build']}/"]
        if refusal:  # as docker's prune, an image in use is kept: that is no failure of the prune
            print(f"berth: kept build #{row['build']}'s image: {refusal}", file=sys.stderr)
    if deleted:
        print("Deleted Images:\n" + "\n".join(line for row in deleted for line in _removed_lines(row)) + "\n")
    print(f"Removed {len(deleted)} of {len(rows)} older image(s) of team {team['name']}; each app keeps its "
          "current one.")
    return 0


def cmd_image(args) -> int:
    return {"ls": cmd_images, "rm": cmd_rmi, "prune": cmd_image_prune}[args.image_command](args)


def _volume(api: Api, name: str, team: str | None) -> dict:
    """A volume by its name, which is unique in a team: --team (by name or ID) tells teams apart."""
    rows = [v for v in api.call("GET", "volumes/")
            if v["name"] == name and team in (None, v["team"], str(v["team_id"]))]
    if not rows:
        raise ClientError(f"no volume {name!r} in {'team ' + team if team else 'your teams'} "
                          "(`berth volume ls` lists them)")
    if len(rows) > 1:
        raise ClientError(f"{name!r} names volumes in several teams ({', '.join(v['team'] for v in rows)}): "
                          "say which with --team")
    return rows[0]


def cmd_volume_ls(args) -> int:
    api = _api()
    query = f"?team={_team(api, args.team)['id']}" if args.team else ""
    rows = [cli_tables.volume_row(row) for row in api.call("GET", "volumes/" + query)]
    print(cli_tables.table(rows, cli_tables.VOLUME_COLUMNS))
    return 0


def cmd_volume_create(args) -> int:
    api = _api()
    volume = api.call("POST", "volumes/", {"team": _team(api, args.team)["id"], "name": args.name})
    print(volume["name"])
    return 0


def cmd_volume_rm(args) -> int:
    api = _api()

    def remove(name: str) -> None:
        volume = _volume(api, name, args.team)
        if api.call("DELETE", f"volumes/{volume['id']}/") is not None:  # 202: asked of the host with its files
            refusal = _await_hosts(api, [f"volumes/{volume['id']}/"]).popitem()[1]
            if refusal:
                raise ClientError(f"{name}: {volume['host']} refused: {refusal}")
        print(name, flush=True)
    return _each(args.names, remove)


def cmd_volume(args) -> int:
    return {"ls": cmd_volume_ls, "create": cmd_volume_create, "rm": cmd_volume_rm}[args.volume_command](args)


def _follow(api: Api, path: str, after: str | None, until_end: bool, follow: bool) -> dict | None:
    """Print log lines as they come; for a build, until its end entry."""
    while True:
        page = api.call("GET", path + (f"?after={after}" if after else ""))
        for _, fields in page["entries"]:
            if "end" in fields:
                return fields
            print(fields.get("line", ""), flush=True)
        after = page["next"]
        if not (follow or until_end):
            return None
        time.sleep(FOLLOW_SECONDS)


def _finished_build(api: Api, build_id: int, wait_seconds: float = 10) -> dict:
    """The build once the control worker has recorded its end: the agent ends the log stream a
    moment before, so the first read may still say running."""
    deadline = time.monotonic() + wait_seconds
    while True:
        build = api.call("GET", f"builds/{build_id}/")
        if build["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return build
        time.sleep(FOLLOW_SECONDS / 5)


def cmd_build(args) -> int:
    api = _api()
    build_args = dict(item.split("=", 1) if "=" in item else (item, "") for item in args.build_arg)
    build = api.call("POST", f"apps/{_app_id(api, args.app)}/build/",
                     {"build_args": build_args, "target": args.target or "", "no_cache": args.no_cache})
    print(f"build {build['id']} {build['status']} on {build['host']}", flush=True)
    end = _follow(api, f"builds/{build['id']}/log/", None, until_end=True, follow=False)
    final = _finished_build(api, build["id"])
    if (end or {}).get("end") != "succeeded" and final["status"] != "succeeded":
        raise ClientError(f"build {build['id']} {final['status']}: {final['error'] or 'see its log above'}")
    print(f"built {final['image']}")
    return 0


def _run_settings(args) -> dict:
    """The settings the run flags give, by the API's names; those not given are left out."""
    if args.memory is not None and args.memory.rounded:
        print(f"berth: {args.memory.bytes} bytes of memory is not a whole number of MB: "
              f"rounded up to {args.memory.mb} MB", file=sys.stderr)
    given = {"ports": args.publish, "memory_mb": args.memory and args.memory.mb, "cpus": args.cpus,
             "pids_limit": args.pids_limit, "restart_policy": args.restart,
             "env": None if args.env is None else [item for item in args.env if item is not None]}
    return {name: value for name, value in given.items() if value is not None}


def cmd_run(args) -> int:
    api = _api()
    container = api.call("POST", f"apps/{_app_id(api, args.app)}/run/", _run_settings(args), flags=RUN_FLAGS)
    if args.detach:
        print(container["id"])
        return 0
    return _attach(api, container)


def _attach(api: Api, container: dict) -> int:
    """As ``docker run`` without -d: the container's log until it ends, then its exit code."""
    cid, name = container["id"], container["name"]
    print(f"berth: {name} (ID {cid}) on {container['host']}; Ctrl-C leaves it running", file=sys.stderr)
    after, ended, quiet_since = None, None, 0.0
    try:
        while True:
            page = api.call("GET", f"containers/{cid}/logs/" + (f"?after={after}" if after else ""))
            for _, fields in page["entries"]:
                print(fields.get("line", ""), flush=True)
            after = page["next"]
            if ended is None:
                state = api.call("GET", f"containers/{cid}/")
                if state["status"] in ENDED:
                    ended, quiet_since = state, time.monotonic()
            elif page["entries"]:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= LOG_SETTLE_SECONDS:
                return _outcome(ended)
            time.sleep(FOLLOW_SECONDS)
    except KeyboardInterrupt:
        print(f"berth: {name} goes on running (berth stop {cid})", file=sys.stderr)
        raise


def _outcome(container: dict) -> int:
    """The exit code of ``docker run``: the container's, or 125 when it never started."""
    if container["status"] == "failed" and container["exit_code"] is None:
        print(f"berth: {container['name']} failed: {container['error']}", file=sys.stderr)
        return 125
    if container["status"] == "lost":
        print(f"berth: {container['name']} is lost: {container['error']}", file=sys.stderr)
        return 125
    return container["exit_code"] or 0


def cmd_app_set(args) -> int:
    body = _run_settings(args)
    extra = {"cpuset_cpus": args.cpuset_cpus, "volumes": args.volume,
             "host_labels": None if args.host_label is None else dict(args.host_label)}
    body |= {name: value for name, value in extra.items() if value is not None}
    for flag, name in (("network_in_rate", "network_in_mb"), ("network_out_rate", "network_out_mb")):
        if getattr(args, flag) is not None:
            body[name] = getattr(args, flag) or None  # 0: no limit
    for flag, name, empty in (("no_ports", "ports", []), ("no_env", "env", []), ("no_volumes", "volumes", []),
                              ("no_host_labels", "host_labels", {})):
        if getattr(args, flag):
            if name in body:
                raise ClientError(f"--{flag.replace('_', '-')} and {APP_FLAGS[name]} contradict each other")
            body[name] = empty
    if not body:
        raise ClientError("nothing to change: give the settings to set (berth app set --help lists them)")
    api = _api()
    app = api.call("PATCH", f"apps/{_app_id(api, args.app)}/", body, flags=APP_FLAGS)
    _print_table([app], ["id", "name", "ports", "memory_mb", "cpus", "pids_limit", "restart_policy", "env"])
    return 0


def cmd_logs(args) -> int:
    api = _api()
    path = f"containers/{_container_id(api, args.container)}/logs/"
    after = None
    if args.tail:
        page = api.call("GET", f"{path}?tail={args.tail}")
        for _, fields in page["entries"]:
            print(fields.get("line", ""))
        after = page["next"]
    _follow(api, path, after, until_end=False, follow=args.follow)
    return 0


def cmd_stats(args) -> int:
    api = _api()
    given = {_container_id(api, ref): ref for ref in args.containers}
    path = "containers/stats/?" + urllib.parse.urlencode([("container", cid) for cid in given])
    clear = "\033[H\033[J" if sys.stdout.isatty() and not args.no_stream else ""  # redraw in place, as docker
    rows = api.call("GET", path)
    missing = [ref for cid, ref in given.items() if cid not in {row["id"] for row in rows}]
    if missing:
        raise ClientError(f"not running: {', '.join(missing)} (`berth ps` lists yours)")
    while True:
        print(clear + cli_tables.table([cli_tables.stats_row(row) for row in rows], cli_tables.STATS_COLUMNS),
              flush=True)
        if args.no_stream:
            return 0
        time.sleep(STATS_SECONDS)
        rows = api.call("GET", path)


def _act(method: str, path: str, done: str):
    def run(args) -> int:
        api = _api()
        cid = _container_id(api, args.container)
        body = {"signal": args.signal} if done == "kill" else None
        container = api.call(method, path.format(id=cid, force="1" if getattr(args, "force", False) else "0"), body)
        print(f"{container['id']} {container['status']} ({done} asked)")
        return 0
    return run


COMMANDS = {
    "login": cmd_login, "apps": cmd_apps, "app": cmd_app_set, "build": cmd_build, "run": cmd_run, "ps": cmd_ps,
    "logs": cmd_logs, "stats": cmd_stats, "images": cmd_images, "hosts": cmd_hosts,
    "image": cmd_image, "rmi": cmd_rmi, "volume": cmd_volume,
    "stop": _act("POST", "containers/{id}/stop/", "stop"),
    "restart": _act("POST", "containers/{id}/restart/", "restart"),
    "kill": _act("POST", "containers/{id}/kill/", "kill"),
    "rm": _act("DELETE", "containers/{id}/?force={force}", "rm"),
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ClientError as exc:
        print(f"berth: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
