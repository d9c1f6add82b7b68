from django.urls import path

from console.images import views

app_name = "images"
urlpatterns = [
    path("images/", views.image_list, name="list"),
    path("images/actions/", views.image_bulk, name="bulk"),
    path("images/search/", views.image_search, name="search"),
    path("hosts/<str:name>/images/", views.image_list, name="host"),
    path("hosts/<str:name>/images/prune/", views.image_prune, name="prune"),
    path("hosts/<str:name>/images/save/", views.image_save, name="save"),
    path("hosts/<str:name>/images/load/", views.image_load, name="load"),
    path("hosts/<str:name>/images/import/", views.image_import, name="import"),
    path("hosts/<str:name>/images/<str:ref>/", views.image_detail, name="detail"),
    path("hosts/<str:name>/images/<str:ref>/history/", views.image_history, name="history"),
    path("hosts/<str:name>/images/<str:ref>/inspect/", views.image_inspect, name="inspect"),
    path("hosts/<str:name>/images/<str:ref>/action/", views.image_action, name="action"),
    path("hosts/<str:name>/mirrors/", views.mirrors, name="mirrors"),
]
