from django.urls import path

from console.hosts import views

app_name = "hosts"
urlpatterns = [
    path("", views.host_list, name="list"),
    path("add/", views.host_form, name="add"),
    path("test/", views.host_test, name="test-form"),
    path("<str:name>/", views.host_detail, name="detail"),
    path("<str:name>/edit/", views.host_form, name="edit"),
    path("<str:name>/test/", views.host_test, name="test"),
    path("<str:name>/delete/", views.host_delete, name="delete"),
]
