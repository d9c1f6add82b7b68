from django.urls import path, re_path

from console.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.audit_list, name="list"),
    path("<int:pk>/", views.audit_detail, name="detail"),
    re_path(r"^export\.(?P<fmt>csv|json)$", views.audit_export, name="export"),
]
