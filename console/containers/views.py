from django.shortcuts import render


def container_list(request, name=None):
    return render(request, "containers/list.html", {})
