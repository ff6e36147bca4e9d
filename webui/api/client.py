"""``berth``: Berth's command line, a client of the JSON API (no Django in here).

    python -m webui.api.client login http://127.0.0.1:8000 --token berth_...
    python -m webui.api.client apps | ps | hosts
    python -m webui.api.client build hello [--build-arg V=1] [--target T] [--no-cache]
    python -m webui.api.client run hello
    python -m webui.api.client logs [-f] [--tail N] CONTAINER
    python -m webui.api.client stop | restart | kill [-s SIG] | rm [-f]  CONTAINER

The URL and token come from ``login`` (kept in ~/.config/berth/config.json, mode 0600),
or from BERTH_URL and BERTH_TOKEN, which win.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CONFIG = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "berth" / "config.json"
FOLLOW_SECONDS = 0.5


class ClientError(Exception):
    """What went wrong, as the user should read it."""


class Api:
    def __init__(self, url: str, token: str):
        self.url, self.token = url.rstrip("/"), token

    def call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/api/{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
            "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ClientError(_explain(exc)) from None
        except urllib.error.URLError as exc:
            raise ClientError(f"cannot reach Berth at {self.url}: {exc.reason}") from None


def _explain(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        return f"{body['detail']} (HTTP {exc.code})"
    if isinstance(body, dict):  # a form's errors, by field
        return "; ".join(f"{field}: {' '.join(map(str, errors))}" for field, errors in body.items())
    return f"HTTP {exc.code} {exc.reason}"


def _api() -> Api:
    saved = json.loads(CONFIG.read_text()) if CONFIG.exists() else {}
    url, token = os.environ.get("BERTH_URL", saved.get("url")), os.environ.get("BERTH_TOKEN", saved.get("token"))
    if not url or not token:
        raise ClientError("not logged in: run `login URL --token TOKEN` (make a token on the API tokens page)")
    return Api(url, token)


def _table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


def _app_id(api: Api, name_or_id: str) -> int:
    apps = api.call("GET", "apps/")
    found = [a for a in apps if a["name"] == name_or_id or str(a["id"]) == name_or_id]
    if len(found) != 1:
        known = ", ".join(a["name"] for a in apps) or "none"
        raise ClientError(f"no app {name_or_id!r} in your teams (yours: {known})"
                          if not found else f"{name_or_id!r} names apps in several teams: use its ID")
    return found[0]["id"]


def cmd_login(args) -> None:
    api = Api(args.url, args.token)
    api.call("GET", "apps/")  # the token works before it is kept
    CONFIG.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(CONFIG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": api.url, "token": args.token}, f)
    print(f"logged in to {api.url}")


def cmd_apps(args) -> None:
    _table(_api().call("GET", "apps/"), ["id", "name", "team", "ports", "memory_mb", "cpus"])


def cmd_ps(args) -> None:
    rows = [c for c in _api().call("GET", "containers/") if args.all or c["status"] != "removed"]
    _table(rows, ["id", "name", "status", "host", "ports", "ip", "restart_count"])


def cmd_hosts(args) -> None:
    _table(_api().call("GET", "hosts/"), ["name", "is_up", "cpus", "containers", "cpu_percent", "agent_version"])


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


def cmd_build(args) -> None:
    api = _api()
    build_args = dict(item.split("=", 1) if "=" in item else (item, "") for item in args.build_arg)
    build = api.call("POST", f"apps/{_app_id(api, args.app)}/build/",
                     {"build_args": build_args, "target": args.target or "", "no_cache": args.no_cache})
    print(f"build {build['id']} {build['status']} on {build['host']}", flush=True)
    end = _follow(api, f"builds/{build['id']}/log/", None, until_end=True, follow=False)
    final = api.call("GET", f"builds/{build['id']}/")
    if (end or {}).get("end") != "succeeded" and final["status"] != "succeeded":
        raise ClientError(f"build {build['id']} {final['status']}: {final['error']}")
    print(f"built {final['image']}")


def cmd_run(args) -> None:
    api = _api()
    container = api.call("POST", f"apps/{_app_id(api, args.app)}/run/")
    print(f"{container['id']} {container['name']} {container['status']} on {container['host']}")


def cmd_logs(args) -> None:
    api = _api()
    path = f"containers/{args.container}/logs/"
    after = None
    if args.tail:
        page = api.call("GET", f"{path}?tail={args.tail}")
        for _, fields in page["entries"]:
            print(fields.get("line", ""))
        after = page["next"]
    _follow(api, path, after, until_end=False, follow=args.follow)


def _act(method: str, path: str, done: str):
    def run(args) -> None:
        container = _api().call(method, path.format(id=args.container, force="1" if getattr(args, "force", False)
                                                     else "0"), {"signal": args.signal} if done == "kill" else None)
        print(f"{container['id']} {container['status']} ({done} asked)")
    return run


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="berth", description="Berth from the command line, through its API")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("login", help="keep the URL and an API token for the other commands")
    s.add_argument("url")
    s.add_argument("--token", required=True)
    s.set_defaults(func=cmd_login)
    sub.add_parser("apps", help="your teams' apps").set_defaults(func=cmd_apps)
    s = sub.add_parser("ps", help="your teams' containers")
    s.add_argument("-a", "--all", action="store_true", help="removed ones too")
    s.set_defaults(func=cmd_ps)
    sub.add_parser("hosts", help="the worker hosts (admins)").set_defaults(func=cmd_hosts)
    s = sub.add_parser("build", help="build an app and follow its log")
    s.add_argument("app", help="its name or ID")
    s.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE")
    s.add_argument("--target")
    s.add_argument("--no-cache", action="store_true")
    s.set_defaults(func=cmd_build)
    s = sub.add_parser("run", help="run an app's last good build with its settings")
    s.add_argument("app")
    s.set_defaults(func=cmd_run)
    s = sub.add_parser("logs", help="a container's log")
    s.add_argument("container", type=int)
    s.add_argument("-f", "--follow", action="store_true")
    s.add_argument("--tail", type=int)
    s.set_defaults(func=cmd_logs)
    for name, method, path in (("stop", "POST", "containers/{id}/stop/"),
                               ("restart", "POST", "containers/{id}/restart/"),
                               ("kill", "POST", "containers/{id}/kill/"),
                               ("rm", "DELETE", "containers/{id}/?force={force}")):
        s = sub.add_parser(name, help=f"{name} a container")
        s.add_argument("container", type=int)
        if name == "kill":
            s.add_argument("-s", "--signal", default="KILL")
        if name == "rm":
            s.add_argument("-f", "--force", action="store_true", help="kill it first if it runs")
        s.set_defaults(func=_act(method, path, name))
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.func(args)
    except ClientError as exc:
        print(f"berth: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
