"""`manage.py provisioning_simulator --port 8970`: the provisioning simulator in the foreground."""

from django.core.management.base import BaseCommand, CommandError

from integrations.provisioning.simulator import (
    ProvisioningSimulator,
    SimulatorServer,
    seed_from_file,
)
from integrations.simulation import serve


class Command(BaseCommand):
    requires_system_checks = []  # it serves no Django requests; start at once
    help = (
        "Serve the provisioning simulator (plain, Calix-, Nokia- and Adtran-shaped APIs) on "
        "127.0.0.1 until interrupted; see docs/provisioning.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8970)
        parser.add_argument(
            "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
        )
        parser.add_argument("--seed", help="JSON file of ONTs, known profiles, rejected serials")
        parser.add_argument(
            "--username",
            default="",
            help="require these credentials (basic "
            "auth and Adtran-shaped logins); default: accept any",
        )
        parser.add_argument("--password", default="")
        parser.add_argument("--token", default="", help="require this bearer/X-Auth-Token")
        parser.add_argument("--quiet", action="store_true", help="do not log each request")

    def handle(self, *args, **options):
        try:
            seed = seed_from_file(options["seed"]) if options["seed"] else None
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read the seed file: {exc}") from exc
        simulator = ProvisioningSimulator(
            seed=seed,
            username=options["username"],
            password=options["password"],
            token=options["token"],
        )
        try:
            server = SimulatorServer(
                simulator,
                host=options["host"],
                port=options["port"],
                verbose=not options["quiet"],
            )
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from exc
        serve(server, f"provisioning simulator listening on {server.url}")
