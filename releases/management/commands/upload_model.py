from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from releases import selectors, services
from releases.errors import DomainError


class Command(BaseCommand):
    help = (
        "Upload a model version (a .skops or .onnx file) as a user, with an optional "
        "evaluation CSV. Validation then runs in a worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="registered model name")
        parser.add_argument("file", type=Path, help="the .skops or .onnx file")
        parser.add_argument("--as", dest="username", required=True, help="uploading user")
        parser.add_argument("--evaluation-data", type=Path, default=None)
        parser.add_argument("--target", default="")
        parser.add_argument("--notes", default="")
        parser.add_argument("--tags", default="", help="comma-separated")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        for key in ("file", "evaluation_data"):
            path = options[key]
            if path is not None and not path.is_file():
                raise CommandError(f"{path} is not a file.")
        try:
            model = selectors.registered_model_get_for_user(
                user=user, name=options["name"], action="upload"
            )
            with options["file"].open("rb") as artifact:
                evaluation = (
                    options["evaluation_data"].open("rb") if options["evaluation_data"] else None
                )
                try:
                    version = services.model_version_upload(
                        actor=user,
                        registered_model=model,
                        artifact=File(artifact, name=options["file"].name),
                        evaluation_data=File(evaluation, name=evaluation.name)
                        if evaluation
                        else None,
                        target=options["target"],
                        notes=options["notes"],
                        tags=options["tags"].split(","),
                    )
                finally:
                    if evaluation:
                        evaluation.close()
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Uploaded {model.name} v{version.version} ({version.format}, sha256 "
            f"{version.sha256[:12]}…): {version.status}"
            + (
                f"; needs trust for: {', '.join(version.pending_trust)}"
                if version.pending_trust
                else "; validation queued"
            )
        )
