from django.urls import path

from webapp.views import chat_page

urlpatterns = [path("", chat_page, name="webapp")]
