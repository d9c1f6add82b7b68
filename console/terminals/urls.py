from django.urls import path

from console.terminals import views

app_name = "terminals"
urlpatterns = [
    path("hosts/<str:name>/containers/<str:ref>/terminal/", views.terminal, name="page"),
]
