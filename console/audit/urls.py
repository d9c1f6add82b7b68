from django.urls import path, re_path

from console.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.audit_list, name="list"),
    path("<int:pk>/", views.audit_detail, name="detail"),
    path("<int:pk>/replay/", views.audit_replay, name="replay"),
    path("<int:pk>/recording.cast", views.audit_recording, name="recording"),
    re_path(r"^export\.(?P<fmt>csv|json)$", views.audit_export, name="export"),
]
