"""Load the demo town and lay the demo scenario over it (idempotent)."""

import time

from django.core.management.base import BaseCommand

from common.demo import DemoContext, demo_steps


class Command(BaseCommand):
    help = (
        "Load the Berlin-Wedding demo town (real OSM data), build the demo scenario and "
        "create the demo logins. Safe to run again: what exists is left as it is."
    )

    def handle(self, *args, **options):
        context = DemoContext(say=lambda line: self.stdout.write(f"  {line}"))
        for step in demo_steps():
            started = time.monotonic()
            self.stdout.write(f"• {step.name}")
            step.func(context)
            self.stdout.write(f"  done in {time.monotonic() - started:.1f}s")
        if context.logins:
            self.stdout.write(self.style.SUCCESS("Demo logins (username / password — role):"))
            for username, password, role in context.logins:
                self.stdout.write(f"  {username:<10} / {password:<15} — {role}")
