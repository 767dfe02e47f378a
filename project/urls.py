"""URL configuration for the bitstore project."""

from importlib.util import find_spec

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
]

# bitstore_app.urls is written later (the blob views); mount it once it exists so the
# project keeps working while the app is being built.
if find_spec("bitstore_app.urls") is not None:
    urlpatterns.append(path("bitstore/", include("bitstore_app.urls")))
    # The admin's "View site" link: the endpoints' home page, not a 404 at /.
    admin.site.site_url = "/bitstore/"
# bitstore's lists are wide (a tier has ten columns): give them the navigation sidebar's room.
admin.site.enable_nav_sidebar = False
