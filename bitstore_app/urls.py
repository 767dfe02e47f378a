"""The blob endpoint, batch existence, warm jobs and metrics; a project mounts them under a
prefix of its own.

path("bitstore/", include("bitstore_app.urls"))
"""

from django.urls import path

from .web import blobs, metrics, missing, warm

app_name = "bitstore"

urlpatterns = [
    path("blobs/missing", missing.missing, name="missing"),
    path("blobs/<str:sha1>", blobs.blob, name="blob"),
    path("warm", warm.warm, name="warm"),
    path("warm/<int:job_id>", warm.warm_job, name="warm-job"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
