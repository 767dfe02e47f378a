"""The blob endpoints (read, upload), warm jobs, metrics and the OpenAPI document; a project
mounts them under a prefix of its own:

path("bitstore/", include("bitstore_app.urls"))
"""

from django.urls import path

from .web import blobs, home, metrics, openapi, uploads, warm

app_name = "bitstore"

urlpatterns = [
    path("", home.home, name="home"),
    path("blobs", uploads.post_blob, name="blobs"),
    path("blobs/<str:sha1>", blobs.blob, name="blob"),
    path("warm", warm.warm, name="warm"),
    path("warm/<str:job_id>", warm.warm_job, name="warm-job"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("openapi.json", openapi.document, name="openapi"),
]
