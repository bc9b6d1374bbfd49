"""The benchmark server's URLconf: the project's URLs, plus the floor views of
bench/floors.py at /bench-floor/ (bench/settings.py)."""

from django.urls import include, path

from chat_project import urls as project

urlpatterns = [*project.urlpatterns, path("bench-floor/", include("bench.floors"))]

# Django looks the error handlers up on the root URLconf.
handler400 = project.handler400
handler403 = project.handler403
handler404 = project.handler404
handler500 = project.handler500
