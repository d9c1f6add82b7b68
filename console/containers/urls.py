from django.urls import path

from console.containers import files_views, run_views, views

app_name = "containers"
urlpatterns = [
    path("containers/", views.container_list, name="list"),
    path("containers/actions/", views.container_bulk, name="bulk"),
    path("hosts/<str:name>/containers/", views.container_list, name="host"),
    path("hosts/<str:name>/containers/prune/", views.container_prune, name="prune"),
    path("hosts/<str:name>/containers/<str:ref>/", views.container_detail, name="detail"),
    path("hosts/<str:name>/containers/<str:ref>/inspect/", views.container_inspect, name="inspect"),
    path("hosts/<str:name>/containers/<str:ref>/top/", views.container_top, name="top"),
    path("hosts/<str:name>/containers/<str:ref>/diff/", views.container_diff, name="diff"),
    path("hosts/<str:name>/containers/<str:ref>/action/", views.container_action, name="action"),
    # run, commit, files (docker run / commit / cp / export)
    path("run/", run_views.run, name="run"),
    path("hosts/<str:name>/run/", run_views.run, name="run-host"),
    path("hosts/<str:name>/containers/<str:ref>/commit/", run_views.commit, name="commit"),
    path("hosts/<str:name>/containers/<str:ref>/files/", files_views.files, name="files"),
    path("hosts/<str:name>/containers/<str:ref>/files/download/", files_views.files_download, name="files-download"),
    path("hosts/<str:name>/containers/<str:ref>/files/upload/", files_views.files_upload, name="files-upload"),
    path("hosts/<str:name>/containers/<str:ref>/export/", files_views.export, name="export"),
]
