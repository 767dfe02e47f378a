"""The blob endpoint, warm jobs and metrics; a project mounts them under a prefix of its own.

path("bitstore/", include("bitstore_app.urls"))
"""

from django.urls import path

from . import views

app_name = "bitstore"

urlpatterns = [
    path("blobs/<str:sha1>", views.blob, name="blob"),
    path("warm", views.warm, name="warm"),
    path("warm/<int:job_id>", views.warm_job, name="warm-job"),
    path("metrics", views.metrics_view, name="metrics"),
]
