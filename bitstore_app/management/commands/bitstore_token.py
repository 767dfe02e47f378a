"""Create, list and revoke API tokens."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bitstore_app.management.days import days_from_now
from bitstore_app.models import ApiToken
from bitstore_app.web.tokens import issue

SCOPES = [scope for scope, _ in ApiToken.SCOPES]


class Command(BaseCommand):
    help = "Create (printing the token once), list or revoke API tokens."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a token and print it")
        create.add_argument("username")
        create.add_argument("--name", default="", help="what the token is for")
        create.add_argument(
            "--scope", action="append", choices=SCOPES, required=True, help="repeat for several"
        )
        create.add_argument("--expires-in", type=float, metavar="DAYS", help="default: never")
        listing = actions.add_parser("list", help="list tokens (never the tokens themselves)")
        listing.add_argument("--user", help="only this user's")
        revoke = actions.add_parser("revoke", help="revoke tokens by id or prefix")
        revoke.add_argument("tokens", nargs="+", metavar="ID_OR_PREFIX")

    def handle(self, action, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, username, name, scope, expires_in, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"there is no user {username!r}")
        expires_at = None
        if expires_in is not None:
            expires_at = days_from_now("--expires-in", expires_in, later=True)
        try:
            _, token = issue(user, name or f"{username} token", scope, expires_at)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(token)

    def _list(self, user, **options):
        rows = ApiToken.objects.select_related("user")
        if user:
            rows = rows.filter(user__username=user)
        now = timezone.now()
        for row in rows:
            state = "revoked" if row.revoked_at else "active"
            if not row.revoked_at and row.expires_at and row.expires_at <= now:
                state = "expired"
            expires = row.expires_at.isoformat() if row.expires_at else "never"
            scopes = ",".join(row.scopes)
            self.stdout.write(
                f"{row.pk}\t{row.prefix}...\t{row.user}\t{scopes}\t{state}\t{expires}\t{row.name}"
            )

    def _revoke(self, tokens, **options):
        for given in tokens:
            rows = ApiToken.objects.filter(
                pk=int(given) if given.isdigit() else None
            ) | ApiToken.objects.filter(prefix=given.rstrip("."))
            if not rows.exists():
                raise CommandError(f"no token has the id or prefix {given!r}")
            count = rows.revoke()
            self.stdout.write(f"{given}: revoked" if count else f"{given}: already revoked")
