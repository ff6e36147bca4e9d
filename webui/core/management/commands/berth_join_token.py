"""Make a join token for host agents: printed, or written once to a file (0600) that the
local agent reads through BERTH_JOIN_TOKEN_FILE. With --file, an existing file is kept."""
from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand

from webui.hosts.models import JoinToken, token_digest


class Command(BaseCommand):
    help = "Make a join token that lets host agents join the fleet."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="local hosts", help="What the token is for.")
        parser.add_argument("--file", help="Write it here (mode 0600) unless the file holds a valid token.")

    def handle(self, *args, name, file, **options):
        if file and Path(file).exists():
            kept = Path(file).read_text().strip()
            if JoinToken.objects.filter(key_digest=token_digest(kept), revoked=None).exists():
                return
        _, token = JoinToken.issue(name)
        if not file:
            self.stdout.write(token)
            return
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
