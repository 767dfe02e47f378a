"""Commands refuse numbers past what the database or a date can hold with one line, not a
traceback."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bitstore_app.models import Tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiers(tmp_path):
    Tier.objects.create(name="disk", kind="filesystem", location=str(tmp_path / "d"), role="cache")
    (tmp_path / "list").write_text("a" * 40 + "\n")
    return tmp_path / "list"


@pytest.mark.parametrize("size", [str(2**63), str(2**31), "0", "-3"])
def test_warm_refuses_a_chunk_size_out_of_range(tiers, size):
    with pytest.raises(CommandError, match="chunk_size must be a whole number from 1 to"):
        call_command(
            "bitstore_warm",
            str(tiers),
            "--local",
            "--chunk-size",
            size,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


@pytest.mark.parametrize("days", ["1e300", "inf", "nan", "99999999"])
def test_prune_refuses_a_span_no_date_holds(days):
    with pytest.raises(CommandError, match="--older-than"):
        call_command("bitstore_ledger_prune", "--older-than", days, stdout=io.StringIO())


@pytest.mark.parametrize("days", ["1e300", "inf", "nan", "99999999999999", "0", "-1"])
def test_rollups_refuse_a_span_no_date_holds(days):
    with pytest.raises(CommandError, match="--days must be a positive number of days"):
        call_command("bitstore_ledger_rollups", "--days", days, stdout=io.StringIO())


@pytest.mark.parametrize("days", ["1e300", "inf", "nan", "99999999999999", "0", "-1"])
def test_a_token_refuses_an_expiry_no_date_holds(days):
    from django.contrib.auth.models import User

    User.objects.create(username="programmer")
    with pytest.raises(CommandError, match="--expires-in must be a positive number of days"):
        call_command(
            "bitstore_token",
            "create",
            "programmer",
            "--scope",
            "read",
            "--expires-in",
            days,
            stdout=io.StringIO(),
        )
