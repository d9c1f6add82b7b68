from django.urls import path

from console.registries import views

app_name = "registries"
urlpatterns = [
    path("", views.registry_list, name="list"),
    path("add/", views.registry_form, name="add"),
    path("<str:name>/edit/", views.registry_form, name="edit"),
    path("<str:name>/delete/", views.registry_delete, name="delete"),
    path("<str:name>/test/", views.registry_test, name="test"),
]
