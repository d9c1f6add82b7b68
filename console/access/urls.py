from django.urls import path

from console.access import views

app_name = "access"
urlpatterns = [
    path("users/", views.user_list, name="users"),
    path("users/add/", views.user_form, name="user-add"),
    path("users/<int:pk>/", views.user_form, name="user-edit"),
    path("users/<int:pk>/delete/", views.user_delete, name="user-delete"),
    path("users/<int:pk>/access/", views.user_access, name="user-access"),
    path("groups/", views.group_list, name="groups"),
    path("groups/add/", views.group_form, name="group-add"),
    path("groups/<int:pk>/", views.group_form, name="group-edit"),
    path("groups/<int:pk>/delete/", views.group_delete, name="group-delete"),
    path("roles/", views.role_list, name="roles"),
    path("roles/add/", views.role_form, name="role-add"),
    path("roles/<int:pk>/", views.role_form, name="role-edit"),
    path("roles/<int:pk>/delete/", views.role_delete, name="role-delete"),
    path("grants/", views.grant_list, name="grants"),
    path("grants/<int:pk>/revoke/", views.grant_revoke, name="grant-revoke"),
]
