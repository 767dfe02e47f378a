"""The warm jobs in the admin: progress bars, read-only records, and "Retry failed hashes"."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

import bitstore_app.admin.warm_jobs  # noqa: F401 - registers WarmJob (admin/ imports it too)
from bitstore_app.models import WarmJob
from tests.warming.conftest import make_blobs

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:bitstore_app_warmjob_changelist"


def test_the_job_list_shows_each_jobs_progress(admin_client):
    WarmJob.objects.create(total=10, warmed=4, already_cached=1, status=WarmJob.RUNNING)
    WarmJob.objects.create(total=4, warmed=3, failed=1, status=WarmJob.DONE_WITH_ERRORS)

    page = admin_client.get(reverse(CHANGELIST)).content.decode()

    assert 'title="5 of 10"' in page and "width:50%" in page and "50%</td>" in page
    assert 'title="4 of 4"' in page and "background:#ba2121" in page


def test_jobs_are_read_only(admin_client):
    job = WarmJob.objects.create(total=3, warmed=3, status=WarmJob.DONE)

    assert admin_client.get(reverse("admin:bitstore_app_warmjob_add")).status_code == 403
    page = admin_client.get(reverse("admin:bitstore_app_warmjob_change", args=[job.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()


def test_a_jobs_page_says_when_and_how_many_chunks_were_sent_again(admin_client):
    from django.utils import timezone

    job = WarmJob.objects.create(total=30, warmed=10, status=WarmJob.RUNNING, chunks=3)
    WarmJob.objects.filter(pk=job.pk).update(chunks_resent=2, resent_at=timezone.now())

    page = admin_client.get(reverse("admin:bitstore_app_warmjob_change", args=[job.pk]))
    text = page.content.decode()

    assert "Chunks resent:</label>" in text and '<div class="readonly">2</div>' in text
    assert "Resent at:</label>" in text


def test_retry_failed_hashes_starts_a_job_for_the_failed_and_invalid_ones(
    admin_client, admin_user, api, tiers, eager, django_capture_on_commit_callbacks
):
    blobs = make_blobs(3, seed=30)
    api.blobs.update(blobs)  # the source has them now
    failed, invalid, fine = blobs
    old = WarmJob.objects.create(
        total=3,
        warmed=1,
        failed=1,
        invalid=1,
        chunk_size=10,
        failed_hashes=[failed],
        invalid_hashes=[invalid],
        status=WarmJob.DONE_WITH_ERRORS,
    )
    done = WarmJob.objects.create(total=1, warmed=1, status=WarmJob.DONE)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse(CHANGELIST),
            {"action": "retry_failed", "_selected_action": [old.pk, done.pk]},
            follow=True,
        )

    retry = WarmJob.objects.get(retry_of=old)
    assert (retry.total, retry.warmed, retry.status) == (2, 2, WarmJob.DONE)
    assert retry.created_by == admin_user
    assert set(tiers()) == {failed, invalid}
    messages = {str(message) for message in response.context["messages"]}
    assert messages == {
        f"warm job {old.pk} (done, some failed or invalid): warm job {retry.pk} enqueued for "
        "its 2 failed or invalid SHA1s.",
        f"warm job {done.pk} (done): nothing to retry.",
    }


def test_retrying_needs_the_warm_permission(client, tiers):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_warmjob"))
    client.force_login(viewer)
    old = WarmJob.objects.create(total=1, failed=1, failed_hashes=["a" * 40])

    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "retry_failed" not in page
    client.post(reverse(CHANGELIST), {"action": "retry_failed", "_selected_action": [old.pk]})
    assert WarmJob.objects.count() == 1
