from django.urls import path

from console.containers import views

app_name = "containers"
urlpatterns = [
    path("containers/", views.container_list, name="list"),
    path("hosts/<str:name>/containers/", views.container_list, name="host"),
]
