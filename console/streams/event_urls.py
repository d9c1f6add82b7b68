from django.urls import path

from console.streams import event_views

app_name = "events"
urlpatterns = [
    path("events/", event_views.events_page, name="all"),
    path("hosts/<str:name>/events/", event_views.events_page, name="host"),
]
