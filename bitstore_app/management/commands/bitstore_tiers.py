"""List the tiers in order and probe each one live; fail when an enabled tier does not answer."""

from django.core.management.base import BaseCommand, CommandError

from bitstore_app import services
from bitstore_app.composer import TierSpec
from bitstore_app.models import Tier


class Command(BaseCommand):
    help = (
        "List tiers in the order they are tried, and check that each one answers; the exit "
        "status is 1 when an enabled tier does not."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-probe", action="store_true", help="list without probing")

    def handle(self, no_probe=False, **options):
        tiers = list(Tier.objects.all())
        if not tiers:
            self.stdout.write("No tiers are configured.")
            return
        unreachable = []
        for tier in tiers:
            state = "enabled" if tier.enabled else "disabled"
            line = f"{tier.position:>3}  {tier.name:<20} {tier.kind:<14} {tier.role:<6} {state:<8}"
            line += f" {tier.location}"
            if not no_probe:
                check = services.check_tier(TierSpec.of(tier))
                if tier.enabled and not check.reachable:
                    unreachable.append(tier.name)
                verdict = (
                    self.style.SUCCESS("reachable")
                    if check.reachable
                    else self.style.ERROR(f"unreachable: {check.error}")
                )
                line += f"  {verdict} ({check.seconds * 1000:.0f} ms)"
            self.stdout.write(line)
        if unreachable:
            count = len(unreachable)
            raise CommandError(
                f"{count} enabled tier{'s are' if count > 1 else ' is'} unreachable: "
                + ", ".join(unreachable)
            )
