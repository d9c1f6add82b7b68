from django.urls import path

from console.access import views

app_name = "access"
urlpatterns = [
    path("users/", views.user_list, name="users"),
]
