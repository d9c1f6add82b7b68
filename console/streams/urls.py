from django.urls import path

from console.streams import views

app_name = "logs"
urlpatterns = [
    path("hosts/<str:name>/containers/<str:ref>/logs/", views.logs, name="page"),
    path("hosts/<str:name>/containers/<str:ref>/logs/lines/", views.log_lines, name="lines"),
    path("hosts/<str:name>/containers/<str:ref>/logs/download/", views.log_download, name="download"),
    path("logs/", views.merged_logs, name="merged"),
]
