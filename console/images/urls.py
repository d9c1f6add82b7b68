from django.urls import path

from console.images import views

app_name = "images"
urlpatterns = [
    path("images/", views.image_list, name="list"),
    path("hosts/<str:name>/images/", views.image_list, name="host"),
]
